"""SIGKILL the logger in the middle of a stream of submissions: every record whose receipt was
returned is there after a restart, and the Merkle tree verifies (SQLite and PostgreSQL)."""

import threading

import pytest
from logger_fixtures import drop_schema, postgres_url

from icpurse.bench.loadgen import LoadGenerator
from icpurse.logger.client import LoggerClient, LoggerError
from icpurse.logger.process import LoggerProcess
from purse.records.logger import Receipt


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_kill_during_submissions(tmp_path, dialect):
    schema = None
    if dialect == "sqlite":
        db = "sqlite:///%s" % (tmp_path / "log.db")
    else:
        db, schema = postgres_url()
    gen = LoadGenerator(b"crash", cards=6)
    server = LoggerProcess(tmp_path, db, gen.ca.public_key, gen.issuer.public_key).start()
    receipted = {}
    lock = threading.Lock()
    try:
        feed = LoggerClient(server.url, server.public_key, signers={"issuer": gen.issuer})
        # The records are of the server's log: their payers' vouchers name it.
        gen.join(feed.log_id())
        records = gen.records(600)
        for voucher in gen.vouchers():
            feed.publish_voucher(voucher)

        def stream(part):
            client = LoggerClient(server.url, server.public_key, timeout=5)
            for i in range(part, len(records), 4):
                try:
                    receipt = client.submit(records[i])
                except LoggerError:
                    return  # The server is gone: what was receipted is what counts.
                with lock:
                    receipted[i] = receipt
                    if len(receipted) == 150:
                        server.kill()

        threads = [threading.Thread(target=stream, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert 150 <= len(receipted) < len(records)

        server.start()
        client = LoggerClient(server.url, server.public_key, signers={"issuer": gen.issuer})
        checkpoint = client.checkpoint()
        assert checkpoint.tree_size >= len(receipted)
        for i, receipt in receipted.items():
            index = Receipt.decode(receipt).leaf_index
            assert client.leaf(index) == (records[i], receipt)
            client.verify_included(records[i], receipt, checkpoint)
        # The log goes on from where it stopped, consistently with what came before.
        more = [client.submit(r) for r in records if r not in {records[i] for i in receipted}][:5]
        assert len(more) == 5
        client.verify_consistent(checkpoint, client.checkpoint())
    finally:
        server.stop()
        if schema:
            drop_schema(schema)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_two_workers_share_one_database(tmp_path, dialect):
    """Several service processes, one log: every record gets a receipt, the tree verifies."""
    schema = None
    if dialect == "sqlite":
        db = "sqlite:///%s" % (tmp_path / "log.db")
    else:
        db, schema = postgres_url()
    gen = LoadGenerator(b"workers", cards=6)
    server = LoggerProcess(tmp_path, db, gen.ca.public_key, gen.issuer.public_key, 2).start()
    receipts = {}
    try:
        feed = LoggerClient(server.url, server.public_key, signers={"issuer": gen.issuer})
        gen.join(feed.log_id())
        records = gen.records(300)
        for voucher in gen.vouchers():
            feed.publish_voucher(voucher)

        def stream(part):
            client = LoggerClient(server.url, server.public_key, timeout=30)
            for i in range(part, len(records), 6):
                receipts[i] = client.submit(records[i])

        threads = [threading.Thread(target=stream, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(receipts) == len(records)
        checkpoint = feed.checkpoint()
        assert checkpoint.tree_size == len(records)
        indices = sorted(Receipt.decode(r).leaf_index for r in receipts.values())
        assert indices == list(range(len(records)))
        for i in range(0, len(records), 17):
            feed.verify_included(records[i], receipts[i], checkpoint)
    finally:
        server.stop()
        if schema:
            drop_schema(schema)
