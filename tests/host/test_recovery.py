"""Recovery, reconciliation, clones and the audit, end to end: real authorities in their
directories, the logger as a process with a two-second settlement window, emulated cards on
ptys, and the `icpurse` commands an operator runs (docs/PROTOCOL.md sections 7.1
and 7.2)."""

import sqlite3

import pytest

from icpurse.authority import keys
from icpurse.logger.process import LoggerProcess
from icpurse.terminal import TransferInDoubt, transfer
from purse import proto
from purse.client import CardError
from purse.records.credentials import RevocationList
from purse.records.statement import BalanceStatement


def _authorities(bank):
    return ("--ca", bank.tmp / "ca", "--issuer", bank.tmp / "issuer")


def test_a_destroyed_card_is_recovered_with_logged_and_unlogged_payments(bank):
    a = bank.card("a", 1000, runtime="micropython")
    b, c = bank.card("b"), bank.card("c")
    d = bank.card("d", 500)
    transfer(a.client, b.client, 100, logger=bank.logger)  # Logged before A is destroyed.
    transfer(a.client, c.client, 50)  # C has not synced yet when A is destroyed.
    transfer(d.client, a.client, 30)  # A credited it, but A's log never reaches L.
    assert a.client.info().balance == 880
    old = a.card_id
    bank.destroy(a)
    n = bank.card("n", provision=False)
    recover = ("recover", "--card", old.hex(), "--new-card", n.port, *_authorities(bank),
               *bank.logger_args())  # fmt: skip

    # The first run provisions the new card and revokes A; the window is still open.
    done = bank.cli(*recover, card=n)
    assert done.returncode == 2 and "settlement window" in done.stderr, done.stderr
    assert n.client.info().state == proto.STATE_READY
    assert bank.logger.card(old)["revoked"]
    # Inside the window, C's late log of A's payment still counts; D's journal reaches L.
    assert bank.sync(c).returncode == 0
    synced = bank.sync(d)
    assert synced.returncode == 0 and "1 in-doubt" in synced.stdout, synced.stdout

    bank.wait_window()
    done = bank.cli(*recover, "--wait", "20", card=n)
    assert done.returncode == 0, done.stderr
    # issued 1000 - 100 - 50 (logged); the 30 A received was never logged and is not counted.
    assert n.client.info().balance == 850
    view = bank.logger.card(old)
    assert view["successor"] == n.client.info().card_id.hex()
    statement = BalanceStatement.decode(bytes.fromhex(view["statement"]))
    statement.verify(bank.logger.backend, bank.logger_key)
    assert (statement.card_id, statement.balance, view["balance"]) == (old, 850, 0)
    assert bank.logger.card(n.client.info().card_id)["predecessor"] == old.hex()
    # Running the recovery again finishes nothing twice.
    again = bank.cli(*recover, "--wait", "20", card=n)
    assert again.returncode == 0 and n.client.info().balance == 850, again.stderr

    # D's payment to the destroyed card reverts to D.
    done = bank.cli("reconcile", "--issuer", bank.tmp / "issuer", *bank.logger_args())
    assert done.returncode == 0 and "1 payment(s) refunded" in done.stdout, done.stdout
    synced = bank.sync(d)
    assert "voucher" in synced.stdout and d.client.info().balance == 500, synced.stdout
    for card in (b, c):
        bank.sync(card)
    audit = bank.cli("audit", "--issuer", bank.tmp / "issuer", *bank.logger_args())
    assert audit.returncode == 0 and "audit passed" in audit.stdout, audit.stdout
    # Value is conserved: 1500 loaded = 850 (n) + 100 (b) + 50 (c) + 500 (d).
    assert sum(x.client.info().balance for x in (n, b, c, d)) == 1500


def test_a_torn_tap_is_refunded_and_a_late_log_is_only_evidence(bank):
    a, b = bank.card("a", 1000), bank.card("b")
    challenge = b.client.make_challenge(200)
    payment = a.client.pay(challenge)  # The tap tears here: B never gets the payment.
    assert a.client.info().balance == 800
    assert "1 in-doubt" in bank.sync(a).stdout
    reconcile = ("reconcile", "--issuer", bank.tmp / "issuer", *bank.logger_args())
    early = bank.cli(*reconcile)
    assert "0 payment(s) refunded to their payers, 1 still inside" in early.stdout, early.stdout
    bank.wait_window()
    done = bank.cli(*reconcile)
    assert "1 payment(s) refunded" in done.stdout, done.stdout
    # The first sync's stamp took the payment off A's journal (L holds it); this one loads the
    # refund voucher.
    synced = bank.sync(a)
    assert "voucher" in synced.stdout and a.client.info().balance == 1000, synced.stdout
    # A relay delivers the payment after all: B's card refuses it, since its challenge lived
    # CHALLENGE_TTL_MS and the refund waited longer (docs/PROTOCOL.md section 7.1).
    with pytest.raises(CardError) as late:
        b.client.accept(challenge, payment)
    assert late.value.sw == proto.SW_CHALLENGE_UNKNOWN
    assert b.client.info().outbox == 0 and b.client.info().balance == 0
    assert bank.logger.alerts()["evidence"] == []
    audit = bank.cli("audit", "--issuer", bank.tmp / "issuer", *bank.logger_args())
    assert audit.returncode == 0 and "audit passed" in audit.stdout, audit.stdout


def test_a_cloned_card_is_detected_and_revoked(bank):
    a = bank.card("a", 1000)
    b, c, e, f = (bank.card(n) for n in "bcef")
    clone = bank.clone(a, "a2")
    transfer(a.client, b.client, 800, logger=bank.logger)
    # The clone pays from the same copied balance: its first payment reuses A's counter.
    transfer(clone.client, c.client, 100)
    # C could not tell offline: it is credited, and the evidence names A (section 7.3).
    synced = bank.sync(c)
    assert synced.returncode == 0 and bank.logger.card(c.card_id)["balance"] == 100
    transfer(clone.client, e.client, 500, logger=bank.logger)
    transfer(clone.client, f.client, 300, logger=bank.logger)
    alerts = bank.logger.alerts()
    assert [(x["kind"], x["payer_id"]) for x in alerts["evidence"]] == [
        ("counter-reuse", a.card_id.hex())
    ]
    assert alerts["overspend"] == [
        {"card_id": a.card_id.hex(), "issued": 1000, "received": 0, "paid": 1700}
    ]
    revoke = bank.cli("ca", "revoke", "--dir", bank.tmp / "ca", "--card", a.card_id.hex(),
                      "--logger", bank.server.url)  # fmt: skip
    assert revoke.returncode == 0, revoke.stderr
    bank.sync(e)
    # E now holds the list: it refuses the clone's payment (signed and debited by the clone,
    # never credited: the loss stops here).
    with pytest.raises(TransferInDoubt) as refused:
        transfer(clone.client, e.client, 50)
    assert "revoked" in str(refused.value)


def _copy_db(bank, name, sql):
    """A consistent copy of the running logger's database, with `sql` applied to it."""
    copy = bank.tmp / "logger" / name
    with sqlite3.connect(bank.db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
        dst.executescript(sql)
    return copy


@pytest.mark.parametrize(
    "injected,finding",
    [
        ("DELETE FROM leaves WHERE leaf_index = 1", "leaf 1 is missing"),
        ("DELETE FROM leaves WHERE leaf_index = (SELECT MAX(leaf_index) FROM leaves)",
         "records were removed"),
        ("UPDATE leaves SET amount = amount + 1000 WHERE leaf_index = 0",
         "the record says 40"),
        # The payment of leaf 0 (A's first, in A's journal since B's payment to A synced A)
        # marked refunded as well.
        ("INSERT INTO settlements SELECT p.payment_key, p.payer_id, p.amount, 'refunded', NULL,"
         " p.seen FROM payments p JOIN leaves l ON l.payer_key = p.payer_key"
         " AND l.counter = p.counter WHERE l.leaf_index = 0", "a double credit"),
    ],
    ids=["deleted-log", "deleted-last-log", "altered-amount", "double-credit"],
)  # fmt: skip
def test_the_audit_passes_an_honest_history_and_fails_each_anomaly(bank, injected, finding):
    a, b = bank.card("a", 1000), bank.card("b", 100)
    for x in (40, 60, 70):
        transfer(a.client, b.client, x, logger=bank.logger)
    transfer(b.client, a.client, 25, logger=bank.logger)
    bank.logger.checkpoint()
    audit = ("audit", "--issuer", bank.tmp / "issuer")
    honest = bank.cli(*audit, *bank.logger_args())
    assert honest.returncode == 0 and "audit passed" in honest.stdout, honest.stdout
    copy = _copy_db(bank, "tampered.db", injected)
    tampered = LoggerProcess(bank.tmp / "logger", "sqlite:///%s" % copy,
                             bank.ca.signer.public_key, bank.issuer.signer.public_key,
                             window=bank.window)  # fmt: skip
    with tampered:
        found = bank.cli(*audit, "--logger", tampered.url, "--logger-key", bank.logger_key.hex())
    assert found.returncode == 1 and finding in found.stdout, found.stdout


def test_a_card_redeems_value_to_the_issuer_and_the_audit_counts_it(bank):
    a, b = bank.card("a", 1000), bank.card("b")
    transfer(a.client, b.client, 100, logger=bank.logger)
    redeem = ("redeem", "--card", a.port, "--amount", 300, "--issuer", bank.tmp / "issuer",
              *bank.logger_args())  # fmt: skip
    fresh = bank.card("f", provision=False)
    refused = bank.cli("redeem", "--card", fresh.port, "--amount", 300, "--issuer",
                       bank.tmp / "issuer", "--ca", bank.tmp / "ca", *bank.logger_args(),
                       card=fresh)  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "the card on %s is not personalised (state fresh)" % fresh.port in refused.stderr
    assert "opened" not in refused.stdout
    new = bank.cli(*redeem, card=a)
    assert new.returncode == 2 and "--ca" in new.stderr, new.stderr
    done = bank.cli(*redeem, "--ca", bank.tmp / "ca", card=a)
    assert done.returncode == 0 and "redeemed 300" in done.stdout, done.stderr
    again = bank.cli(*redeem, card=a)
    assert again.returncode == 0, again.stderr
    too_much = bank.cli("redeem", "--card", a.port, "--amount", 5000, "--issuer",
                        bank.tmp / "issuer", *bank.logger_args(), card=a)  # fmt: skip
    assert too_much.returncode == 2 and "insufficient funds" in too_much.stderr
    assert a.client.info().balance == 300
    ledger = bank.logger.ledger()
    assert (ledger["loads"], ledger["redeemed"], ledger["balances"]) == (1000, 600, 400)
    audit = bank.cli("audit", "--issuer", bank.tmp / "issuer", *bank.logger_args())
    assert audit.returncode == 0 and "redeemed 600" in audit.stdout, audit.stdout


def test_ca_revoke_signs_only_for_the_log_its_logger_key_names(bank):
    """`icpurse ca revoke --logger URL` signs its request for the log id the server's checkpoint
    names. With --logger-key that checkpoint must verify under PkL before the CA signs
    anything, so no server gets a request signed for a log other than PkL's; without the key
    the command says whose word it took."""
    a = bank.card("a", 100)
    other = keys.create(bank.tmp / "other.pem", bank.tmp / "other.pem.pub")
    base = ("ca", "revoke", "--dir", bank.tmp / "ca", "--card", a.card_id.hex(), "--logger",
            bank.server.url)  # fmt: skip
    wrong = bank.cli(*base, "--logger-key", other.hex())
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert "signs with another key than --logger-key; nothing was signed" in wrong.stderr
    assert "revoked" not in wrong.stdout  # No list signed, none to publish later.
    assert bank.logger.revocation() is None
    right = bank.cli(*base, "--logger-key", bank.logger_key.hex())
    assert right.returncode == 0, right.stderr
    assert "revocation list 1 lists 1 card(s)" in right.stdout
    assert "note: without --logger-key" not in right.stderr
    assert a.card_id in RevocationList.decode(bank.logger.revocation()).revoked
    unkeyed = bank.cli(*base)
    assert unkeyed.returncode == 0, unkeyed.stderr
    assert "note: without --logger-key the CA signs its request for whichever log" in (
        unkeyed.stderr
    )
    nowhere = bank.cli("ca", "revoke", "--dir", bank.tmp / "ca", "--card", a.card_id.hex(),
                       "--logger", "http://127.0.0.1:9", "--logger-key",
                       bank.logger_key.hex())  # fmt: skip
    assert nowhere.returncode == 2 and "nothing was signed" in nowhere.stderr, nowhere.stderr
    lonely = bank.cli("ca", "revoke", "--dir", bank.tmp / "ca", "--card", a.card_id.hex(),
                      "--logger-key", bank.logger_key.hex())  # fmt: skip
    assert lonely.returncode == 2 and "--logger-key goes with --logger" in lonely.stderr
