"""The appender's joins of a batch's pairs with the log seek the index whatever the log's size
(issue 22, problem 11: PostgreSQL's throughput fell from 12,000 to 5,000 records/s within 16 s
of sustained load; `icpurse bench logger --duration` then showed SQLite falling too).

psycopg prepares a statement after its fifth execution, and PostgreSQL may then plan it once
for any parameters (a generic plan), made while the log was small, that joins the whole
`leaves` table: the cost of each batch then grows with the log (storage/postgres.py has the
figures). What the server did is read from the server itself (pg_prepared_statements), so the
test does not time anything."""

import pytest
from logger_fixtures import drop_schema, postgres_url

from icpurse.bench.loadgen import LoadGenerator
from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.service.logger_service import LoggerService
from icpurse.logger.storage import open_storage
from icpurse.logger.verifier import Checker
from purse.crypto.backend import Signer


@pytest.fixture
def logger():
    url, schema = postgres_url()
    storage = open_storage(url)
    gen = LoadGenerator(b"plans", 16)
    service = LoggerService(storage, Signer(PycaBackend(), b"\x05" * 32), gen.ca.public_key,
                            gen.issuer.public_key)  # fmt: skip
    gen.join(service.log_id)  # The records are of this logger's log.
    for voucher in gen.vouchers():
        service.add_voucher(voucher, "load", None)
    checker = Checker(gen.ca.public_key, gen.issuer.public_key, gen.log_id)
    items = [checker.check(r) for r in gen.records(200)]
    service._commit_batch(items)
    # Statistics of the small log, as autovacuum takes them soon after a logger starts.
    storage.append(lambda tx: tx.run("ANALYZE leaves"))
    try:
        yield storage, items
    finally:
        storage.close()
        drop_schema(schema)


def test_the_appenders_joins_are_planned_for_each_batch(logger):
    """A batch's join runs on the appender's connection as it does under load: after the fifth
    time psycopg prepares it, and PostgreSQL would then switch to a generic plan made while the
    log was small (its pg_prepared_statements row counts generic_plans), which it keeps as the
    log grows. Every run must be planned for its own batch instead."""
    storage, items = logger
    payers = sorted({item.payer_key for item in items})
    # The next batch's payments, whose payer counters no leaf has used yet: the join finds
    # nothing, as for every honest batch.
    pairs = [(payers[k % len(payers)], 10**6 + k) for k in range(200)]

    def plans(tx):
        for _ in range(12):
            if tx.first_leaves(pairs):
                raise AssertionError("fresh counters found as used")
        return tx.all(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE strpos(statement, 'MIN(l.leaf_index)') > 0"
        )

    counts = storage.append(plans)
    assert counts, "psycopg did not prepare the join"
    assert all(generic == 0 for generic, _ in counts), counts
    assert sum(custom for _, custom in counts) >= 7, counts


def test_sqlite_seeks_the_index_for_every_pair_of_a_full_batch(tmp_path):
    """SQLite, given a list of a few hundred pairs, preferred to scan the whole counter index
    of `leaves` and probe the list: each batch then cost more as the log grew."""
    storage = open_storage("sqlite:///%s" % (tmp_path / "log.db"))
    seen = []
    original = type(storage)._execute

    def recording(self, conn, sql, params):
        if sql.startswith("SELECT") and "(VALUES" in sql:
            seen.append((conn, sql, params))
        return original(self, conn, sql, params)

    type(storage)._execute = recording
    try:
        pairs = [(bytes([k % 16]) * 33, 10**6 + k) for k in range(200)]

        def plans(tx):
            tx.first_leaves(pairs)
            tx.journalled_keys(pairs)
            return [
                "\n".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
                for conn, sql, params in seen
            ]

        found = storage.append(plans)
    finally:
        type(storage)._execute = original
        storage.close()
    assert len(found) == 2
    for plan in found:
        # The list outside, each pair a seek of the table's counter index.
        assert "SCAN w" in plan and "_counter (payer_key=? AND counter=?)" in plan, plan
        assert "AUTOMATIC" not in plan, plan
