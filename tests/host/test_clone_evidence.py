"""Issue 22, problem 7: evidence of a clone is stored once per payment identity, however often
the clone's innocent recipient, the clone and the card it copies sync, and however often a
record is sent again; on SQLite and on PostgreSQL (the `logger_world` fixture)."""

from pathlib import Path

from icpurse import audit
from icpurse.crypto_pyca import PycaBackend


def _cloned(w):
    """A pays B; A2, a copy of A's stored state, pays C with the same payer counter."""
    a = w.new_card(b"A", 1000)
    b, c = w.new_card(b"B"), w.new_card(b"C")
    clone = w.new_card(b"A2")
    clone.memory.files.clear()
    clone.memory.files.update(a.memory.files)
    clone.power_cycle()
    w.transfer(a, b, 100)
    w.transfer(clone, c, 100)
    return a, b, c, clone


def _evidence(w):
    return [(e["kind"], e["payer_id"], e["conflicts_with"]) for e in w.client.alerts()["evidence"]]


def test_clone_evidence_is_stored_once_however_often_the_cards_sync(logger_world):
    w = logger_world
    a, b, c, clone = _cloned(w)
    record = c.client.read_outbox(0)
    a_id = a.client.info().card_id.hex()
    for card in (b, c, a, clone):
        w.client.sync(card.client)
    # C's record (leaf 1) reuses the counter of A's payment to B (leaf 0); A's own payment,
    # in its journal, reuses the counter of C's leaf. The clone's journal holds the payment of
    # C's record: the same evidence, not another piece.
    once = [("counter-reuse", a_id, 0), ("counter-reuse", a_id, 1)]
    assert _evidence(w) == once
    for _ in range(3):
        for card in (c, a, clone, b):
            w.client.sync(card.client)
        w.client.submit(record)
        w.client.upload_journal(clone.client.journal())
    assert _evidence(w) == once
    report = audit.run(w.client, None, PycaBackend(), w.logger.public_key)
    flagged = [x for x in report.anomalies if x.startswith("evidence at the logger")]
    assert flagged == [
        "evidence at the logger: counter-reuse by card %s (leaf 0)" % a_id,
        "evidence at the logger: counter-reuse by card %s (leaf 1)" % a_id,
    ]


def test_evidence_that_differs_is_kept_apart(logger_world):
    """The same piece twice is stored once; another signature, leaf or kind is another piece
    (two records of one identity signed apart are two pieces of evidence)."""
    storage = logger_world.storage
    identity, payer = b"i" * 70, b"p" * 8

    def add(kind, leaf, signature, record=b"r"):
        storage.append(
            lambda tx: tx.add_evidence(kind, identity, payer, record, leaf, signature, 5)
        )

    add("counter-reuse", 0, b"s" * 64)
    add("counter-reuse", 0, b"s" * 64, record=b"the same payment in a journal")
    add("counter-reuse", 0, b"t" * 64)
    add("counter-reuse", 1, b"s" * 64)
    add("identity-conflict", -1, b"s" * 64)
    add("identity-conflict", -1, b"t" * 64)
    add("identity-conflict", -1, b"t" * 64)
    assert [(bytes(e.record), e.kind, e.conflicts_with) for e in storage.evidence()] == [
        (b"r", "counter-reuse", 0),
        (b"r", "counter-reuse", 0),
        (b"r", "counter-reuse", 1),
        (b"r", "identity-conflict", -1),
        (b"r", "identity-conflict", -1),
    ]


def test_a_database_of_schema_3_with_repeated_evidence_still_opens(tmp_path):
    """The unique index of schema 4 leaves the copies an older logger stored (no signature)."""
    import sqlite3

    from icpurse.logger.storage import open_storage
    from icpurse.logger.storage.migrations import MIGRATIONS_SQLITE

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS_SQLITE[:3]:
            conn.executescript(migration)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (3)")
        for _ in range(2):
            conn.execute(
                "INSERT INTO evidence (kind, identity, payer_id, record, conflicts_with, ltime)"
                " VALUES ('counter-reuse', x'01', x'02', x'03', 0, 5)"
            )
    storage = open_storage(path)
    try:
        assert len(storage.evidence()) == 2
        for _ in range(2):
            storage.append(
                lambda tx: tx.add_evidence("counter-reuse", b"\1", b"\2", b"\3", 0, b"s", 6)
            )
        assert len(storage.evidence()) == 3
    finally:
        storage.close()
    with sqlite3.connect(path) as conn:
        # Brought to the newest schema (5: the log's genesis), its evidence as it was.
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [
            (len(MIGRATIONS_SQLITE),)
        ]


def _clone_line(err, card_id, url):
    lines = [line for line in err.splitlines() if line.startswith("CLONE:")]
    assert len(lines) == 1, err
    assert card_id.hex() in lines[0]
    assert "icpurse ca revoke --dir ca --card %s --logger %s" % (card_id.hex(), url) in lines[0]


def test_sync_and_pay_exit_5_and_name_the_clone(bank):
    from icpurse.terminal import transfer

    a = bank.card("a", 1000)
    b, c, d = bank.card("b"), bank.card("c"), bank.card("d", 500)
    clone = bank.clone(a, "a2")
    transfer(a.client, b.client, 100, logger=bank.logger)
    # The copy pays with A's payer counter; its journal holds that payment.
    transfer(clone.client, c.client, 100)
    synced = bank.sync(clone)
    assert synced.returncode == 5, synced.stderr
    _clone_line(synced.stderr, a.card_id, bank.server.url)
    # `pay` with a logger syncs its recipient: here the clone, whose journal is refused again.
    d.link.close()
    try:
        paid = bank.cli("pay", "--from", d.port, "--to", clone.port, "--amount", 10,
                        *bank.logger_args(), card=clone)  # fmt: skip
    finally:
        bank.attach(d)
    assert paid.returncode == 5, paid.stderr
    assert "paid 10" in paid.stdout
    _clone_line(paid.stderr, a.card_id, bank.server.url)
    # An honest card's sync says nothing of clones.
    honest = bank.sync(b)
    assert honest.returncode == 0 and "CLONE" not in honest.stdout + honest.stderr


def test_exit_status_5_is_documented():
    from icpurse.cli import terminal

    assert terminal.EXIT_CLONE == 5
    assert "  5  the logger refused a record as a clone's" in terminal.PAY_EPILOG
    assert "  5  the logger refused a record as a clone's" in terminal.SYNC_EPILOG
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "5 when the logger refused a record as a clone's" in " ".join(readme.split())
