"""Host-side provisioning of in-process cards with the real CA, issuer and key files."""

import sys

import pytest
from mp_support import ROOT

from icpurse.authority import AuthorityError, keys
from icpurse.authority.ca import CertificationAuthority
from icpurse.authority.issuer import Issuer
from icpurse.provision import Provisioner
from icpurse.redemption import monotonic_ms
from purse import proto
from purse.client import CardClient
from purse.records.logger import Ticket
from purse.records.stamp import Stamp

sys.path.insert(0, str(ROOT / "tests" / "core"))
from _cards import Rng

from purse.applet import Applet
from purse.store import MemoryBackend, Store
from purse.wallet.card import Card

LTIME = 1795000000
# The id of the log these cards belong to (a logger's database would draw its genesis).
LOG_ID = b"log id A"


@pytest.fixture
def provisioner(tmp_path):
    CertificationAuthority.init(tmp_path / "ca")
    Issuer.init(tmp_path / "issuer", tmp_path / "ca" / "ca.pub")
    logger_pub = keys.create(tmp_path / "logger.pem", tmp_path / "logger.pub")
    logger = keys.load_signer(tmp_path / "logger.pem")
    ca = CertificationAuthority.open(tmp_path / "ca")
    issuer = Issuer.open(tmp_path / "issuer")

    log_id = LOG_ID

    def ticket_for(nonce):
        return Ticket(nonce, LTIME, log_id).sign(logger).encode()

    def stamp_for(card_id, counter):
        return Stamp(card_id, counter, LTIME, log_id).sign(logger).encode()

    return Provisioner(ca, issuer, logger_pub, ticket_for, stamp_for=stamp_for, log_id=log_id)


def _card(name):
    return Applet(Card(Store(MemoryBackend()), Rng(name), monotonic_ms))


def test_provision_two_cards_and_pay(provisioner):
    with pytest.raises(AuthorityError, match="no risk parameters"):
        provisioner.personalise(_card(b"X").process, ltime=LTIME)
    provisioner.issuer.risk(100000, 20000, 50000, 86400, LTIME - 10, LTIME + 10**6)
    a, b = _card(b"A"), _card(b"B")
    info_a = provisioner.personalise(a.process, 5000, ltime=LTIME)
    info_b = provisioner.personalise(b.process, ltime=LTIME)
    assert info_a.state == proto.STATE_READY and info_a.balance == 5000 and info_a.issued == 5000
    assert info_b.balance == 0 and info_a.ltime == LTIME
    # The issuer's ledger knows both cards; the CA certified both keys.
    assert provisioner.issuer.card(info_a.card_id)[1:] == (5000, 1)
    assert provisioner.issuer.card(info_b.card_id)[1:] == (0, 1)
    assert provisioner.ca.certificate(info_b.card_id).public_key == info_b.public_key
    client_a, client_b = CardClient(a.process), CardClient(b.process)
    challenge = client_b.make_challenge(1200)
    client_b.accept(challenge, client_a.pay(challenge))
    assert client_a.info().balance == 3800 and client_b.info().balance == 1200
    # A loaded card: the next voucher raises w and the balance.
    voucher = provisioner.issuer.load(info_b.card_id, 300, LTIME)
    assert client_b.load_voucher(voucher.encode()) == 1500
