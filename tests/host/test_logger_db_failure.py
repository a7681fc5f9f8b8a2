"""A database that fails under a running logger: every route answers 503 with the database's
reason and a Retry-After, never a bare 500; nothing is stored half-way; and once the database
is back the same service serves again, with nothing lost. The client library sends a request
that got a 503 again when asked to, and nothing else.

SQLite: the file's header and its shared-memory index are overwritten while the logger runs,
then the header is put back. PostgreSQL: the server ends the logger's connections (as a
restart or a failover does) with pg_terminate_backend.
"""

import contextlib
import sqlite3
import subprocess
import sys
import time

import pytest
from logger_fixtures import LoggerWorld, drop_schema, named_postgres_url

from icpurse.logger.api import app
from icpurse.logger.client import LoggerClient, LoggerError
from purse.records.logger import Ticket


def _stored_pair(world):
    """Cards A and B and two payments from A to B, the first one logged."""
    a, b = world.new_card(b"A", 10000), world.new_card(b"B")
    world.transfer(a, b, 100)
    world.transfer(a, b, 200)
    records = [b.client.read_outbox(0), b.client.read_outbox(1)]
    return b, records, world.client.submit(records[0])


def _answers_while_failed(world, card_id, record):
    """What each kind of route answers while the database has failed."""
    nonce = "00" * 16
    return {
        "status": world.http.get("/v1/status", params={"nonce": nonce}),
        "checkpoint": world.http.get("/v1/checkpoint"),
        "card": world.http.get("/v1/cards/%s" % card_id.hex(), auth=world.auth()),
        "submit": world.http.post("/v1/record", json={"record": record.hex()}),
        "batch": world.http.post("/v1/records", json={"records": [record.hex()]}),
    }


def _check_after(world, records, first, before):
    """The database is back: the record refused meanwhile is stored once, the first one is
    still there with its receipt, and the tree grew consistently."""
    assert world.client.submit(records[0]) == first
    world.client.submit(records[1])
    after = world.client.checkpoint()
    assert after.tree_size == before.tree_size + 1
    world.client.verify_consistent(before, after)
    # A commit succeeded again, so the status probe hands out ready-tickets again.
    assert Ticket.decode(world.client.ticket(bytes(16))).ltime >= before.ltime


def _rewrite(path, offset, data):
    """Write `data` at `offset` of `path` and return the bytes it replaced, from a process of
    its own: a file descriptor of the database's files opened and closed in this process would
    release every POSIX lock that this process's SQLite connections hold on them, and SQLite,
    believing itself alone, would then lose commits (sqlite.org/howtocorrupt.html, 2.2)."""
    script = (
        "import sys\n"
        "path, offset, data = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3])\n"
        "with open(path, 'r+b') as f:\n"
        "    f.seek(offset)\n"
        "    old = f.read(len(data))\n"
        "    f.seek(offset)\n"
        "    f.write(data)\n"
        "print(old.hex())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), str(offset), data.hex()],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return bytes.fromhex(done.stdout.strip())


@pytest.mark.parametrize("sequencer_process", [False, True], ids=["thread", "appender-process"])
def test_a_damaged_sqlite_file_gets_503_and_loses_nothing(tmp_path, sequencer_process):
    db = tmp_path / "log.db"
    world = LoggerWorld("sqlite:///%s" % db, sequencer_process=sequencer_process)
    try:
        b, records, first = _stored_pair(world)
        before = world.client.checkpoint()
        # The log so far moves into the file itself, so that the header below is the one
        # every reader sees (a copy of page 1 in the write-ahead log would hide the damage).
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        header = _rewrite(db, 0, b"garbage!" * 12)
        # The shared-memory index too, so that every connection, open or new, reads the header.
        _rewrite(str(db) + "-shm", 0, bytes(136))
        answers = _answers_while_failed(world, b.client.info().card_id, records[1])
        for route, answer in answers.items():
            assert answer.status_code == 503, (route, answer.text)
            assert "retry-after" in answer.headers, route
            assert "not a database" in answer.json()["error"], (route, answer.text)
        _rewrite(db, 0, header)
        _check_after(world, records, first, before)
    finally:
        world.close()


def _postgres_world(monkeypatch):
    # No idle heartbeat while the test runs: it could meet an ended connection before the
    # request that the test watches does.
    monkeypatch.setattr(app, "HEARTBEAT_SECONDS", 3600)
    url, schema, end_connections = named_postgres_url()
    return LoggerWorld(url), schema, end_connections


def test_postgresql_connections_ended_by_the_server_get_503_and_lose_nothing(monkeypatch):
    world, schema, end_connections = _postgres_world(monkeypatch)
    try:
        _, records, first = _stored_pair(world)
        before = world.client.checkpoint()
        end_connections()
        # Each connection the pool held fails one call, with the server's reason; the pool
        # then opens new ones. A route never answers a bare 500.
        statuses = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = world.http.get("/v1/checkpoint")
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                break
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"].startswith("the logger's database failed: ")
            assert "retry-after" in answer.headers
        assert statuses[0] == 503 and statuses[-1] == 200, statuses
        _check_after(world, records, first, before)
    finally:
        world.close()
        drop_schema(schema)


def test_the_client_asks_again_after_a_503_and_only_then(monkeypatch):
    world, schema, end_connections = _postgres_world(monkeypatch)
    try:
        _, records, _ = _stored_pair(world)
        waits = []
        client = LoggerClient(
            logger_key=world.logger.public_key, http=world.http, retries=3, max_wait=0.05,
            progress=waits.append,
        )  # fmt: skip
        # Bad input is refused at once, and not sent again.
        try:
            client.submit(b"not a record")
            raise AssertionError("a malformed record was accepted")
        except LoggerError as exc:
            assert exc.status == 400
        assert waits == []
        end_connections()
        receipt = client.submit(records[1])
        assert waits and "terminating connection" in waits[0], waits
        assert client.submit(records[1]) == receipt
        # Without retries the 503 reaches the caller, with the logger's reason.
        end_connections()
        try:
            LoggerClient(http=world.http).checkpoint()
            raise AssertionError("a checkpoint came from a failed database")
        except LoggerError as exc:
            assert exc.status == 503 and exc.retry_after == 5
            assert "database failed" in exc.reason
    finally:
        world.close()
        drop_schema(schema)
