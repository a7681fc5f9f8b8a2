"""Random histories of loads, transfers, torn taps, destroyed cards, recoveries and
redemptions, settled by the rules of docs/PROTOCOL.md: afterwards the audit finds no anomaly
(so the ledger identity holds), every card holds exactly what the logger reconstructs for it,
and the cards together hold exactly what the issuer loaded less what was redeemed — no card
ends up with more than it was given.

The logger runs in-process on a real SQLite file or PostgreSQL schema with a clock the test
moves; the CA and the issuer are the real authorities in temporary directories; the cards are
the firmware's Card and Applet on in-memory stores, driven by CardClient.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logger_fixtures import drop_schema, postgres_url
from mp_support import ROOT
from starlette.testclient import TestClient

from icpurse import audit, settle
from icpurse.authority import AuthorityError
from icpurse.authority.ca import CertificationAuthority
from icpurse.authority.issuer import Issuer
from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.api import build_app
from icpurse.logger.client import LoggerClient
from icpurse.logger.service import LoggerService
from icpurse.logger.storage import open_storage
from icpurse.provision import Provisioner
from icpurse.redemption import RedemptionAccount, monotonic_ms
from icpurse.terminal import TransferInDoubt, TransferRefused, transfer
from purse import proto
from purse.applet import Applet
from purse.client import CardClient, CardError
from purse.crypto.backend import Signer
from purse.crypto.pure import PureBackend
from purse.store import MemoryBackend, Store
from purse.wallet.card import Card

sys.path.insert(0, str(ROOT / "tests" / "core"))
from _cards import Rng

WINDOW = 60
CARDS = 4


class History:
    """One deployment for one generated history."""

    def __init__(self, directory, url):
        CertificationAuthority.init(directory / "ca")
        Issuer.init(directory / "issuer", directory / "ca" / "ca.pub")
        self.ca = CertificationAuthority.open(directory / "ca")
        self.issuer = Issuer.open(directory / "issuer")
        now = int(time.time())
        self.issuer.risk(100000, 20000, 50000, 7 * 86400, now - 86400, now + 365 * 86400)
        self.offset = 0
        key = Signer(PycaBackend(), bytes(31) + b"\x07")
        self.storage = open_storage(url)
        service = LoggerService(
            self.storage, key, self.ca.signer.public_key, self.issuer.signer.public_key,
            clock=lambda: time.time() + self.offset, window=WINDOW,
        )  # fmt: skip
        self.http = TestClient(build_app(service, read_rate=0), base_url="http://logger")
        self.http.__enter__()
        self.logger = LoggerClient(
            logger_key=key.public_key, http=self.http,
            signers={"issuer": self.issuer.signer, "ca": self.ca.signer},
        )  # fmt: skip
        self.provisioner = Provisioner(
            self.ca, self.issuer, key.public_key, self.logger.ticket, self.logger.publish_voucher,
            self.logger.stamp, log_id=self.logger.log_id(),
        )  # fmt: skip
        self.cards = []
        self.destroyed = []
        self.loaded = 0
        self.redeemed = 0
        self.names = 0
        self.account = RedemptionAccount(self.issuer)
        self.account.open(self.ca, self.logger)

    def new_card(self, amount=0):
        self.names += 1
        card = Card(
            Store(MemoryBackend()), Rng(b"card%d" % self.names), monotonic_ms, PureBackend()
        )
        applet = Applet(card)
        client = CardClient(applet.process)
        info = self.provisioner.personalise(client.exchange, amount)
        client.card_id = info.card_id
        self.loaded += amount
        return client

    def sync_all(self):
        for client in self.cards:
            self.logger.sync(client)

    def advance(self):
        self.offset += WINDOW + 1

    def settle(self):
        """Honest cards sync inside the window; then the window passes and the issuer refunds
        what no recipient logged; the payers take their refunds at their next sync."""
        self.sync_all()
        self.advance()
        settle.refund_due(self.issuer, self.logger)
        self.sync_all()

    def recover(self, old):
        self.sync_all()  # Recipients of the old card's payments log them inside the window.
        new = self.new_card()
        for _ in range(4):
            try:
                settle.recover(self.ca, self.issuer, self.logger, old, new, None)
                break
            except AuthorityError:
                self.advance()  # The window was still open: wait it out.
        else:
            raise AssertionError("the recovery never went through")
        self.cards.append(new)

    def close(self):
        self.account.close()
        self.http.__exit__(None, None, None)
        self.storage.close()
        self.issuer.conn.close()
        self.ca.conn.close()


_amounts = st.integers(min_value=1, max_value=400)
_card = st.integers(min_value=0, max_value=CARDS + 3)
OPS = st.one_of(
    st.tuples(st.just("load"), _card, _amounts),
    st.tuples(st.just("pay"), _card, _card, _amounts),
    st.tuples(st.just("torn"), _card, _card, _amounts),
    st.tuples(st.just("sync"), _card),
    st.tuples(st.just("settle")),
    st.tuples(st.just("destroy"), _card),
    st.tuples(st.just("recover")),
    st.tuples(st.just("redeem"), _card, _amounts),
)


def _run(h, ops):
    h.cards = [h.new_card(500) for _ in range(CARDS)]
    for op in ops:
        kind, args = op[0], op[1:]
        live = h.cards
        if kind == "load":
            client = live[args[0] % len(live)]
            voucher = h.issuer.load(client.card_id, args[1], int(time.time()),
                                    publish=h.logger.publish_voucher)  # fmt: skip
            client.load_voucher(voucher.encode())
            h.loaded += args[1]
        elif kind in ("pay", "torn"):
            payer, payee = live[args[0] % len(live)], live[args[1] % len(live)]
            if payer is payee:
                continue
            if payer.info().journal >= proto.JOURNAL_MAX:
                # An honest terminal uploads a full journal before the card signs again: the
                # oldest entry would otherwise be dropped unseen (docs/PROTOCOL.md).
                h.logger.sync(payer)
            if kind == "torn":
                try:
                    payer.pay(payee.make_challenge(args[2]))  # The recipient never hears back.
                except CardError:
                    pass
                continue
            try:
                transfer(payer, payee, args[2])
            except (TransferRefused, TransferInDoubt):
                pass  # Refused (funds, caps, must sync) or left in doubt for reconciliation.
        elif kind == "sync":
            h.logger.sync(live[args[0] % len(live)])
        elif kind == "settle":
            h.settle()
        elif kind == "destroy" and len(live) > 2:
            victim = live.pop(args[0] % len(live))
            h.destroyed.append(victim.card_id)
        elif kind == "recover" and h.destroyed:
            h.recover(h.destroyed.pop(0))
        elif kind == "redeem":
            try:
                h.account.redeem(live[args[0] % len(live)], args[1], h.logger)
                h.redeemed += args[1]
            except (TransferRefused, TransferInDoubt):
                pass
    while h.destroyed:
        h.recover(h.destroyed.pop(0))
    h.settle()
    h.settle()


def _check(h):
    report = audit.run(h.logger, h.issuer, PycaBackend(), h.logger.logger_key)
    assert report.passed, report.anomalies
    assert report.figures["in_doubt"] == 0
    on_cards = 0
    ledger = h.logger.ledger()["cards"]
    for client in h.cards:
        info = client.info()
        view = h.logger.card(info.card_id)
        # Exactly what the ledger says it was given (issued + logged credits - payments).
        assert info.balance == view["balance"], (info.card_id.hex(), info.balance, view)
        # The ledger sums every card at once (storage every_card_totals), a card's view alone.
        sums = ledger[info.card_id.hex()]
        assert (sums["issued"], sums["received"], sums["balance"]) == (
            view["issued"], view["received"], view["balance"]
        )  # fmt: skip
        assert sums["paid"] + sums["unlogged_paid"] == view["paid"]
        on_cards += info.balance
    assert report.figures["redeemed"] == h.redeemed
    assert on_cards == report.figures["loads"] - h.redeemed == h.loaded - h.redeemed


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request):
    if request.param == "sqlite":
        yield lambda directory: "sqlite:///%s" % (directory / "log.db"), None
        return
    schemas = []

    def url(directory):
        value, schema = postgres_url()
        schemas.append(schema)
        return value

    yield url, None
    for schema in schemas:
        drop_schema(schema)


def test_random_histories_conserve_value(database):
    make_url, _ = database

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(OPS, min_size=5, max_size=25))
    def history(ops):
        directory = Path(tempfile.mkdtemp(prefix="icpurse-history-"))
        h = History(directory, make_url(directory))
        try:
            _run(h, ops)
            _check(h)
        finally:
            h.close()
            shutil.rmtree(directory)

    history()
