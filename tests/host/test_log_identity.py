"""One log identity (issue 22, problem 8): two loggers that share a key but not a database are
two logs. A card provisioned and paid on L1 and then synced to L2 by mistake was taken in by
L2 as 700 "in doubt" plus an overspend alert, which broke L2's ledger. Now L2 refuses the
card's records, journal, stamp and vouchers (and stores none of them), its ledger holds, and
the card refuses what L2 signs.
"""

import sqlite3

import pytest
from logger_fixtures import LoggerWorld

from icpurse.authority import AuthorityError
from icpurse.authority.ca import CertificationAuthority
from icpurse.authority.issuer import Issuer
from icpurse.logger.client import LoggerError
from icpurse.logger.storage import StorageError, open_storage
from purse import proto
from purse.client import CardError
from purse.records.credentials import Voucher
from purse.records.log import LogRecord
from purse.records.logger import Receipt
from purse.records.stamp import Stamp


@pytest.fixture
def two_logs(tmp_path):
    """L1 and L2: one logger key (the worked example's SkL), two databases."""
    one = LoggerWorld("sqlite:///%s" % (tmp_path / "l1.db"))
    two = LoggerWorld("sqlite:///%s" % (tmp_path / "l2.db"))
    yield one, two
    one.close()
    two.close()


def _refused(call, *args):
    try:
        call(*args)
    except LoggerError as exc:
        return exc
    raise AssertionError("the logger took it")


def test_two_loggers_with_one_key_are_two_logs(two_logs):
    one, two = two_logs
    assert one.logger_signer.public_key == two.logger_signer.public_key
    assert one.log_id != two.log_id
    assert len(one.log_id) == proto.LOG_ID_SIZE
    # Each signs its id into its checkpoints, and keeps it across a restart.
    assert one.client.checkpoint().log_id == one.log_id
    assert two.client.log_id() == two.log_id
    assert open_storage(two.storage.url).log_id(two.logger_signer.public_key) == two.log_id


def test_a_card_synced_to_another_log_is_refused_there(two_logs):
    one, two = two_logs
    a = one.new_card(b"A", 1000)
    b = one.new_card(b"B")
    one.transfer(a, b, 700)
    record = b.client.read_outbox(0)
    journal = a.client.journal()
    info_a = a.client.info()
    checkpoint = two.client.checkpoint()

    # B's record: its payer's voucher names L1.
    exc = _refused(two.client.submit, record)
    assert exc.status == 422 and "names log %s" % one.log_id.hex() in exc.reason
    # A's journal: L2 never saw A loaded, and its voucher and stamp name L1.
    (result,) = two.client.upload_journal(journal)
    assert result["status"] == 422 and "log" in result["error"]
    # A's stamp: L2 does not know the card.
    assert _refused(two.client.stamp, info_a.card_id, info_a.counter).status == 404
    # The issuer's voucher for A, which names L1, sent to L2.
    exc = _refused(two.client.publish_voucher, a.last_voucher)
    assert exc.status == 422 and "names log" in exc.reason
    # A journal upload refused only because L2 never saw the card loaded: a payment whose
    # voucher and stamp name L2 (as if A had been provisioned there) but no voucher of A's
    # ever reached L2.
    assert "never loaded" in two.client.upload_journal([_as_if_of(two, journal[0])])[0]["error"]

    # L2 stored nothing, and its ledger identity holds: no in-doubt payment, no overspend.
    assert two.service.tree_size() == 0
    assert two.client.in_doubt() == []
    alerts = two.client.alerts()
    assert alerts["overspend"] == [] and alerts["evidence"] == []
    assert not two.service.known_card(info_a.card_id)
    assert two.client.checkpoint().encode() == checkpoint.encode()

    # L1 takes all of it.
    b.client.take_receipt(one.client.submit(record))
    assert one.client.upload_journal(journal)[0]["status"] == 200
    a.client.take_stamp(one.client.stamp(info_a.card_id, info_a.counter))
    assert one.client.in_doubt() == [] and one.client.alerts()["overspend"] == []


def _as_if_of(world, payment_bytes):
    """The payment, re-signed by nothing: its voucher and stamp swapped for ones naming
    `world`'s log (the issuer and L signed them), its own signature S kept, which covers
    neither."""
    from purse.records.transfer import Payment

    payment = Payment.decode(payment_bytes)
    v = payment.voucher
    payment.voucher = Voucher(v.public_key, v.issued, v.sequence, v.ltime, world.log_id)
    payment.voucher.sign(world.issuer)
    s = payment.stamp
    payment.stamp = Stamp(s.card_id, s.counter, s.ltime, world.log_id).sign(world.logger)
    return payment.encode()


def test_a_card_refuses_the_receipts_stamps_and_vouchers_of_another_log(two_logs):
    one, two = two_logs
    a = one.new_card(b"A", 1000)
    b = one.new_card(b"B")
    one.transfer(a, b, 700)
    rec = LogRecord.decode(b.client.read_outbox(0))
    # What L2 would sign, with L1's key: a receipt for B's record, a stamp for A.
    receipt = Receipt(rec.hash(), rec.recipient_id, rec.payment.chall_id, 0, 1, two.ltime,
                      two.log_id).sign(two.logger_signer).encode()  # fmt: skip
    info = a.client.info()
    stamp = Stamp(info.card_id, info.counter, two.ltime, two.log_id).sign(two.logger_signer)
    voucher = Voucher(a.card.state.public_key, 5000, 9, two.ltime, two.log_id)
    for card, call, data in (
        (b, b.client.take_receipt, receipt),
        (a, a.client.take_stamp, stamp.encode()),
        (a, a.client.load_voucher, voucher.sign(two.issuer).encode()),
        (a, a.client.take_ticket, two.ticket_for(a.client.get_nonce())),
    ):
        before = card.snapshot()
        with pytest.raises(CardError) as caught:
            call(data)
        assert caught.value.sw == proto.SW_SECURITY
        assert card.snapshot() == before
    assert b.client.info().outbox == 1 and a.client.info().balance == 300


def test_the_issuer_signs_a_card_vouchers_of_its_own_log_only(tmp_path):
    CertificationAuthority.init(tmp_path / "ca")
    Issuer.init(tmp_path / "issuer", tmp_path / "ca" / "ca.pub")
    ca = CertificationAuthority.open(tmp_path / "ca")
    issuer = Issuer.open(tmp_path / "issuer")
    from purse.crypto.backend import Signer
    from purse.crypto.pure import PureBackend

    card = Signer(PureBackend(), bytes(31) + b"\x05")
    cert = ca.certify(card.public_key, 0, 2**32 - 1)
    issuer.register(cert.encode())
    # A card's first voucher needs its log: the issuer never signs a voucher of no log.
    with pytest.raises(AuthorityError, match="does not know the log"):
        issuer.load(cert.card_id, 100, 1)
    first = issuer.load(cert.card_id, 100, 1, log_id=b"log one!")
    assert first.log_id == b"log one!" and issuer.log_of(cert.card_id) == b"log one!"
    # Later vouchers name it without being told, and never another log.
    assert issuer.load(cert.card_id, 50, 2).log_id == b"log one!"
    with pytest.raises(AuthorityError, match="belongs to log"):
        issuer.load(cert.card_id, 50, 3, log_id=b"log two!")
    assert issuer.card(cert.card_id)[1:] == (150, 2)


def test_a_log_database_of_protocol_2_is_refused(tmp_path):
    path = tmp_path / "old.db"
    open_storage("sqlite:///%s" % path).close()
    # Back to schema 4 (protocol 2), holding a voucher: it must be refused, not misread.
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 4")
        # Without what schema 6 added (the running sums and the payer index with counters).
        conn.execute("DROP TABLE card_flows")
        conn.execute("DROP INDEX leaves_payer")
        conn.execute("CREATE INDEX leaves_payer ON leaves (payer_id)")
        conn.execute("DELETE FROM meta WHERE key = 'genesis'")
        conn.execute(
            "INSERT INTO vouchers (card_id, sequence, issued, public_key, record)"
            " VALUES (x'00', 1, 0, x'00', x'00')"
        )
    with pytest.raises(StorageError, match="protocol 2"):
        open_storage("sqlite:///%s" % path)
    # An empty one is brought up to date, with a genesis of its own.
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM vouchers")
    storage = open_storage("sqlite:///%s" % path)
    assert len(storage.meta("genesis")) == 16
    storage.close()


def test_a_card_synced_by_mistake_to_a_second_logger_with_the_same_key(bank):
    """The incident, end to end: L2 runs from L1's key file on a database of its own. A card
    of L1 synced to L2 fails with a reason; L2 stores nothing of it, its ledger holds, and the
    card, synced to L1, is whole."""
    from icpurse.logger.client import LoggerClient
    from icpurse.terminal import transfer

    a, b = bank.card("a", 1000), bank.card("b")
    transfer(a.client, b.client, 700)
    second = bank.logger_process(bank.tmp / "logger" / "second.db")
    l2 = LoggerClient(second.url, bank.logger_key, signers={"issuer": bank.issuer.signer})
    assert l2.log_id() != bank.logger.log_id()
    for card in (a, b):
        done = bank.cli("sync", card.port, "--logger", second.url, "--logger-key",
                        bank.logger_key.hex(), card=card)  # fmt: skip
        assert done.returncode != 0, done.stdout
        assert "this log" in done.stderr, done.stderr
    assert l2.checkpoint().tree_size == 0 and l2.in_doubt() == []
    # `issuer load` to L2 for a card of L1: refused before anything is signed.
    done = bank.cli("issuer", "load", "--dir", bank.tmp / "issuer", "--card", a.card_id.hex(),
                    "--amount", "5", "--logger", second.url)  # fmt: skip
    assert done.returncode != 0 and "belongs to log" in done.stderr, done.stderr
    # On its own logger, all is well.
    for card in (a, b):
        assert bank.sync(card).returncode == 0
    assert bank.logger.in_doubt() == [] and a.client.info().balance == 300
    l2.close()


def test_checkpoints_of_two_logs_are_never_consistent(two_logs):
    from icpurse.audit.report import AuditReport
    from icpurse.audit.tree import check_tree
    from icpurse.crypto_pyca import PycaBackend
    from icpurse.logger import merkle
    from purse.records.checkpoint import Checkpoint

    one, two = two_logs
    a, b = one.new_card(b"A", 1000), one.new_card(b"B")
    one.transfer(a, b, 10)
    one.client.sync(b.client)
    old, new = one.client.checkpoint(), two.client.checkpoint()
    # Same key, same empty-or-not trees: still two logs, whatever a proof says.
    with pytest.raises(merkle.ProofError, match="two logs"):
        one.client.verify_consistent(
            Checkpoint(0, merkle.EMPTY_ROOT, new.ltime, new.log_id).sign(two.logger_signer), old
        )
    # The audit flags a checkpoint of another log in a log's list.
    foreign = Checkpoint(old.tree_size, old.root, old.ltime, two.log_id).sign(two.logger_signer)
    rows = [
        {"checkpoint": old.encode().hex(), "tree_size": old.tree_size},
        {"checkpoint": foreign.encode().hex(), "tree_size": foreign.tree_size},
    ]
    report = AuditReport()
    parsed = _parsed_leaves(one)
    check_tree(report, one.client, parsed, rows, PycaBackend(), one.logger.public_key)
    assert report.anomalies == [
        "checkpoint at size 1 names log %s, not %s: it is another log's"
        % (two.log_id.hex(), one.log_id.hex())
    ]


def _parsed_leaves(world):
    """The audit's parsed leaves of `world`'s log."""
    from icpurse.audit import AuditReport, checked
    from icpurse.audit.tree import check_leaves
    from icpurse.crypto_pyca import PycaBackend

    leaves = checked(world.client.leaves(), "leaves")
    return check_leaves(AuditReport(), leaves, PycaBackend(), world.logger.public_key)
