"""`icpurse demo` (`make demo`): money moving between emulated cards, witnessed by the logger.

Everything is real and local: a CA and an issuer with their key files and ledgers, the logger
service on loopback with a temporary SQLite database, and three cards running the firmware's
own main.py behind pseudo-terminals — two on the MicroPython Unix port, one on CPython — driven
over the serial link exactly as boards are. At the end the cards' balances stand next to the
balances the logger reconstructs from what it witnessed, with the conservation check. Nothing
is left running and the temporary directory is removed.
"""

import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from icpurse import audit, settle
from icpurse.authority import keys
from icpurse.authority.ca import CertificationAuthority
from icpurse.authority.issuer import Issuer
from icpurse.crypto_pyca import PycaBackend
from icpurse.emulator.card import EmulatedCard
from icpurse.logger import REFUND_DELAY_MIN
from icpurse.logger.client import LoggerClient
from icpurse.logger.process import LoggerProcess
from icpurse.provision import Provisioner
from icpurse.terminal import TransferInDoubt, TransferRefused, transfer
from purse import proto
from purse.records.logger import Receipt

# The logger's settlement window, cut short so that the recovery chapter runs in seconds.
DEMO_WINDOW = 2
CARDS = (("alice", "micropython", 8000), ("bob", "cpython", 4000), ("carol", "micropython", 0))
TAPS = (
    ("alice", "bob", 1250, proto.SEAL_ENCRYPTED, False, "anonymous (eC encrypted with K)"),
    ("bob", "carol", 300, proto.SEAL_HASHED, False, "anonymous (eC hash-scrambled)"),
    ("carol", "alice", 120, proto.SEAL_SIGNED, False, "identified: alice's card shows the payee"),
    ("alice", "carol", 2000, proto.SEAL_ENCRYPTED, True, "embodiment 2: logger ticket first"),
    ("bob", "alice", 50, proto.SEAL_PLAIN, False, "plain challenge"),
)


def say(text=""):
    print(text, flush=True)


def run(args):
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="icpurse-demo-") as tmp, ExitStack() as stack:
        tmp = Path(tmp)
        say("icpurse demo: an electronic purse whose transfers a third-party log witnesses")
        say()
        say("1. The authorities")
        pk_t = CertificationAuthority.init(tmp / "ca")
        pk_i = Issuer.init(tmp / "issuer", tmp / "ca" / "ca.pub")
        ca = CertificationAuthority.open(tmp / "ca")
        issuer = Issuer.open(tmp / "issuer")
        now = int(time.time())
        issuer.risk(100000, 20000, 50000, 7 * 86400, now - 60, now + 365 * 86400)
        say("   CA (T)      PkT %s..." % pk_t.hex()[:20])
        say(
            "   issuer (I)  PkI %s...  risk: balance cap 100000, payment cap 20000,"
            % pk_i.hex()[:20]
        )
        say("               unlogged credit cap 50000, settlement window 7 days")

        say()
        say("2. The third-party logger (L), on loopback with a temporary SQLite database")
        logs = tmp / "logger"
        logs.mkdir()
        pk_l = keys.create(logs / "logger.pem", str(logs / "logger.pem") + ".pub")
        pk_o = keys.create(logs / "operator.pem", str(logs / "operator.pem") + ".pub")
        server = LoggerProcess(
            logs, "sqlite:///%s" % (logs / "log.db"), pk_t, pk_i, window=DEMO_WINDOW,
            extra=["--operator", pk_o.hex()],
        )  # fmt: skip
        stack.callback(server.stop)
        server.start()
        # Vouchers, recoveries and revocation lists are signed by the issuer's and the CA's
        # keys; the ledger, alerts and card histories are read with the operator's key.
        signers = {
            "issuer": issuer.signer,
            "ca": ca.signer,
            "operator": keys.load_signer(logs / "operator.pem"),
        }
        logger = LoggerClient(server.url, pk_l, signers=signers)
        stack.callback(logger.close)
        say("   logger      PkL %s...  at %s" % (pk_l.hex()[:20], server.url))
        say("   operator    PkO %s...  reads the ledger; the issuer and the CA sign what they"
            " send" % pk_o.hex()[:20])  # fmt: skip
        say("               its settlement window is cut to %d s for the demo (a day by default)"
            % DEMO_WINDOW)  # fmt: skip

        say()
        say("3. Three cards, each a board's firmware behind a pseudo-terminal")
        provisioner = Provisioner(
            ca,
            issuer,
            pk_l,
            logger.ticket,
            logger.publish_voucher,
            logger.stamp,
            log_id=logger.log_id(),
        )
        cards = {}
        for name, runtime, amount in CARDS:
            card = EmulatedCard(tmp / name, runtime=runtime)
            stack.enter_context(card)
            info = provisioner.personalise(card.link.exchange, amount)
            cards[name] = card
            card.card_id = info.card_id
            say("   %-6s %-12s on %-12s id %s  key generated on the card, loaded %d"
                % (name, runtime, card.port, info.card_id.hex(), amount))  # fmt: skip

        say()
        say("4. Taps: the terminal relays each challenge and payment between two cards")
        for payer, payee, amount, mode, ticket, what in TAPS:
            outcome = transfer(cards[payer].client, cards[payee].client, amount, mode, logger,
                               ticket)  # fmt: skip
            say("   %-6s -> %-6s %6d  %-42s  receipt from L: %d"
                % (payer, payee, amount, what, outcome.receipts))  # fmt: skip
        try:
            transfer(cards["carol"].client, cards["bob"].client, 5000, logger=logger)
        except TransferRefused as exc:
            say("   carol  -> bob      5000  refused, nothing moved: %s" % exc)
        _substitution_attack(cards["bob"], cards["alice"])

        say()
        say("5. Sync: every card hands its log records to L and takes the receipts back")
        for card in cards.values():
            logger.sync(card.client)
        checkpoint = logger.checkpoint()
        last = logger.leaf(checkpoint.tree_size - 1)
        logger.verify_included(last[0], last[1], checkpoint)
        say("   L's Merkle tree: %d records, root %s..., inclusion of leaf %d proven"
            % (checkpoint.tree_size, checkpoint.root.hex()[:16],
               Receipt.decode(last[1]).leaf_index))  # fmt: skip

        say()
        say(
            "6. Balances: what each card holds, and what L reconstructs (issued + received - paid)"
        )
        say("   %-6s %-12s %10s %10s %10s %10s %10s" % (
            "card", "runtime", "on card", "issued", "received", "paid", "by L"))  # fmt: skip
        total_cards = total_issued = 0
        agree = True
        for (name, runtime, _), card in zip(CARDS, cards.values(), strict=True):
            info = card.client.info()
            view = logger.card(card.card_id)
            agree = agree and info.balance == view["balance"]
            total_cards += info.balance
            total_issued += view["issued"]
            same = "=" if info.balance == view["balance"] else "MISMATCH"
            say("   %-6s %-12s %10d %10d %10d %10d %10d  %s" % (
                name, runtime, info.balance, view["issued"], view["received"], view["paid"],
                view["balance"], same))  # fmt: skip
        in_doubt = logger.ledger()["in_doubt"]
        conserved = total_cards + in_doubt == total_issued
        verdict = "holds" if conserved else "BROKEN"
        say("   conservation: issued %d = sum of card balances %d + in doubt %d: %s"
            % (total_issued, total_cards, in_doubt, verdict))  # fmt: skip
        alerts = logger.alerts()
        say("   alerts at L: %d overspend, %d pieces of evidence"
            % (len(alerts["overspend"]), len(alerts["evidence"])))  # fmt: skip

        say()
        recovered = _recovery_chapter(tmp, stack, ca, issuer, logger, pk_l, provisioner, cards)
        say()
        say(
            "done in %.1f s; cards, logger and temporary files are gone"
            % (time.monotonic() - started)
        )
        if not (agree and conserved and recovered):
            print("icpurse demo: the cards and the logger disagree", file=sys.stderr)
            return 1
    return 0


class _Substituting:
    """A payer with modified firmware at a tap: it answers a challenge for 500 with a payment
    of 1 it signed for an earlier challenge and withheld."""

    def __init__(self, client, withheld):
        self.client = client
        self.withheld = withheld

    def pay(self, challenge):
        self.client.pay(challenge)  # It signs the payment asked for, and keeps it.
        return self.withheld


def _substitution_attack(payer, recipient):
    """The attack the terminal and the recipient's card refuse (docs/PROTOCOL.md 7.0): both
    signed payments stay in the payer's journal, in doubt, and are refunded to it later."""
    withheld = payer.client.pay(recipient.client.make_challenge(1))
    try:
        transfer(_Substituting(payer.client, withheld), recipient.client, 500)
        say("   bob    -> alice      500  ATTACK NOT REFUSED")
    except TransferInDoubt:
        say("   bob    -> alice      500  attack: bob's card answers with a withheld payment of 1;"
            " refused, alice credits nothing")  # fmt: skip


def _recovery_chapter(tmp, stack, ca, issuer, logger, pk_l, provisioner, cards):
    """Chapter 7: carol's card is destroyed with a payment to it not yet logged; its balance is
    recovered onto a new card, the unlogged payment reverts to its payer, the audit passes."""
    say("7. Disaster: carol's card is destroyed, and what it held is recovered")
    alice, carol = cards["alice"], cards["carol"]
    transfer(alice.client, carol.client, 200)
    before = carol.client.info().balance
    say("   alice  -> carol      200  not yet logged: carol's card has not synced")
    carol.stop()
    shutil.rmtree(carol.state_dir)
    say("   carol's card is gone: it held %d, and its state directory is deleted" % before)
    logger.sync(alice.client)
    say("   alice syncs: her journal shows L the 200 she signed, which no log credits (in doubt)")
    dave = EmulatedCard(tmp / "dave", runtime="cpython")
    stack.enter_context(dave)
    statement, info = settle.recover(
        ca, issuer, logger, carol.card_id, dave.client, pk_l, wait=30,
        progress=lambda text: say("   ... " + text),
    )  # fmt: skip
    say("   L signed carol's balance statement: %d (issued + logged credits - logged payments)"
        % statement.balance)  # fmt: skip
    say("   the issuer loaded it onto dave's new card %s: it holds %d"
        % (info.card_id.hex(), info.balance))  # fmt: skip
    _wait_until_refundable(logger)
    settle.refund_due(issuer, logger, progress=lambda text: say("   ... " + text))
    logger.sync(alice.client)
    say("   alice's 200 to carol was never logged: refunded to alice, who now holds %d"
        % alice.client.info().balance)  # fmt: skip
    for name in ("bob",):
        logger.sync(cards[name].client)
    say("   bob's two payments of the refused attack were refunded to bob, who holds %d"
        % cards["bob"].client.info().balance)  # fmt: skip
    report = audit.run(logger, issuer, PycaBackend(), pk_l)
    figures = report.figures
    say("   audit: %d records and %d checkpoints re-verified; loads %d = card balances %d"
        " + in doubt %d: %s"
        % (figures["records"], figures["checkpoints"], figures["loads"], figures["balances"],
           figures["in_doubt"], "passed" if report.passed else "FAILED"))  # fmt: skip
    for text in report.anomalies:
        say("     anomaly: %s" % text)
    held = sum(c.client.info().balance for c in (alice, cards["bob"], dave))
    say("   the three cards left hold %d of the %d loaded" % (held, figures["loads"]))
    return report.passed and held == figures["loads"]


def _wait_until_refundable(logger):
    """Wait, with a progress line, until every in-doubt payment may be refunded: at least
    REFUND_DELAY_MIN after L first saw it, when no recipient can credit it any more."""
    say("   ... waiting until no recipient can credit the payments in doubt (%d s after L saw"
        " them; their challenges lived %d s)"
        % (REFUND_DELAY_MIN, proto.CHALLENGE_TTL_MS // 1000))  # fmt: skip
    deadline = time.monotonic() + REFUND_DELAY_MIN + 30
    while time.monotonic() < deadline:
        if all(p["due"] for p in logger.in_doubt()):
            return
        time.sleep(1)
