"""What each card received and paid by log records is kept as a running sum by the appender
(schema 6), so that `GET /v1/ledger` costs the same whatever the log's length (issue 22: two
unthrottled readers of the ledger slowed appends by 30 % on SQLite and 47 % on PostgreSQL,
because every read summed every leaf of every card).

The tests are structural, not timed: the sums equal what the leaves say on every database, a
database of schema 5 is brought to them, and no statement of the ledger reads a card's leaves
(SQLite's own query plans say which rows each statement visits)."""

import sqlite3

from icpurse.logger.storage import open_storage


def _id(card):
    return bytes(card.client.info().card_id)


def _flows(storage):
    """The running sums and the same sums recomputed from every leaf, as two dicts."""

    def read(tx):
        kept = {bytes(c): (int(r), int(p)) for c, r, p in tx.all("SELECT * FROM card_flows")}
        recomputed = {}
        leaves = tx.all("SELECT payer_id, recipient_id, amount FROM leaves")
        for payer, recipient, amount in leaves:
            received = recomputed.setdefault(bytes(recipient), [0, 0])
            received[0] += int(amount)
            recomputed.setdefault(bytes(payer), [0, 0])[1] += int(amount)
        return kept, {card: tuple(sums) for card, sums in recomputed.items()}

    return storage.snapshot(read)


def test_the_running_sums_are_what_the_leaves_say(logger_world):
    w = logger_world
    a, b, c = w.new_card(b"A", 10000), w.new_card(b"B", 500), w.new_card(b"C")
    for payer, recipient, amount in ((a, b, 250), (a, c, 40), (b, c, 700), (c, a, 15)):
        w.transfer(payer, recipient, amount)
    for card in (a, b, c):
        w.client.sync(card.client)
    kept, recomputed = _flows(w.storage)
    assert kept == recomputed
    assert kept[_id(c)] == (740, 15)
    ledger = w.client.ledger()
    assert ledger["cards"][_id(c).hex()]["balance"] == 725
    assert ledger["tree_size"] == 4


def test_a_schema_5_database_gets_its_sums_from_its_leaves(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 10000), w.new_card(b"B")
    w.transfer(a, b, 250)
    w.transfer(a, b, 30)
    w.client.sync(b.client)
    # Back to schema 5 as an older icpurse left it: no sums, the payer index on its own column.
    w.storage.write(
        [(sql, ()) for sql in (
            "DROP TABLE card_flows", "DROP INDEX leaves_payer",
            "CREATE INDEX leaves_payer ON leaves (payer_id)",
            "UPDATE schema_version SET version = 5",
        )]
    )  # fmt: skip
    storage = open_storage(w.storage.url)
    try:
        kept, recomputed = _flows(storage)
        assert kept == recomputed
        assert kept[_id(b)] == (280, 0) and kept[_id(a)] == (0, 280)
        assert storage.snapshot(lambda tx: tx.card_totals(_id(b))).received == 280
    finally:
        storage.close()


def test_no_statement_of_the_ledger_reads_a_cards_leaves(tmp_path):
    """Every statement `ledger()` runs, asked of SQLite's planner: the leaves may be read only
    by the point lookup of one payment (a journalled payment's record, by payer key and
    counter), never a card's range of them. Before schema 6 the plans said `SEARCH leaves USING
    INDEX leaves_recipient (recipient_id=?)` and `leaves_payer (payer_id=?)` for every card."""
    from logger_fixtures import LoggerWorld

    world = LoggerWorld("sqlite:///%s" % (tmp_path / "log.db"))
    try:
        a, b = world.new_card(b"A", 10000), world.new_card(b"B")
        world.transfer(a, b, 250)
        world.client.sync(b.client)
        storage = world.storage
        seen = []
        original = type(storage)._execute

        def recording(self, conn, sql, params):
            if sql.lstrip().upper().startswith("SELECT"):
                seen.append((sql, tuple(params)))
            return original(self, conn, sql, params)

        type(storage)._execute = recording
        try:
            ledger = world.service.ledger()
        finally:
            type(storage)._execute = original
        assert ledger["cards"][_id(b).hex()]["balance"] == 250
        assert seen, "the ledger ran no statement"
        conn = sqlite3.connect(storage.url[len("sqlite:///") :])
        try:
            plans = [
                (sql, [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)])
                for sql, params in seen
            ]
        finally:
            conn.close()
        looked_up = False
        for sql, steps in plans:
            for step in steps:
                words = step.split()
                # The leaves, by name or by the alias `l` the payment queries give them.
                if words[0] not in ("SCAN", "SEARCH") or words[1] not in ("leaves", "l"):
                    continue
                # Allowed: the newest leaf index from the primary key (a bare SEARCH), and a
                # journalled payment's own record by payer key and counter.
                point = step == "SEARCH leaves" or step.endswith("(payer_key=? AND counter=?)")
                assert point, (sql, steps)
                looked_up = looked_up or step == "SEARCH leaves"
        assert looked_up, "the planner's words changed: the test no longer sees the leaves"
    finally:
        world.close()
