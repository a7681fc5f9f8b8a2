"""The status probe of embodiment 2 hands a card a ready-ticket only while the logger can keep
its promise to store the card's record: a commit succeeded recently, the commit queue is short
and the disk has room. Otherwise it answers 503 with the reason and a Retry-After, and it is
ready again as soon as the cause is gone. A request that would overflow the commit queue is
refused the same way, and nothing is stored of it."""

import shutil
import subprocess
import threading
import time

import pytest
from logger_fixtures import LoggerWorld

from icpurse.logger.service import logger_service as service_module
from purse.records.logger import Ticket

NONCE = "5a" * 16


def _probe(world):
    return world.http.get("/v1/status", params={"nonce": NONCE})


def _refused(answer, reason):
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == reason
    assert answer.headers["retry-after"] == "1"


def _ready(world):
    answer = _probe(world)
    assert answer.status_code == 200, answer.text
    return Ticket.decode(bytes.fromhex(answer.json()["ticket"]))


def _records(world, count):
    a, b = world.new_card(b"A", 100000), world.new_card(b"B")
    for amount in range(1, count + 1):
        world.transfer(a, b, amount)
    return [b.client.read_outbox(i) for i in range(count)]


def test_a_held_sequencer_refuses_tickets_then_records_and_recovers(tmp_path):
    world = LoggerWorld("sqlite:///%s" % (tmp_path / "log.db"))
    gate = threading.Event()
    submitters = []
    try:
        records = _records(world, 10)
        assert _ready(world).nonce == bytes.fromhex(NONCE)
        sequencer = world.service.sequencer
        sequencer.max_queue = 8
        # The sequencer's thread is held, as by a commit that hangs on its disk.
        world.http.portal.start_task_soon(sequencer.run_alone, gate.wait)
        receipts = {}

        def submit(index):
            receipts[index] = world.client.submit(records[index])

        for index in range(6):
            submitters.append(threading.Thread(target=submit, args=(index,)))
            submitters[-1].start()
            if index == 0:
                # The sequencer takes the first request into its held batch, alone: requests
                # that arrived with it would join that batch instead of the queue.
                time.sleep(0.5)
        # Five requests stay queued behind it.
        deadline = time.monotonic() + 20
        while sequencer.queued < 5:
            if time.monotonic() > deadline:
                raise AssertionError("the requests did not queue: %d" % sequencer.queued)
            time.sleep(0.02)
        _refused(_probe(world), "the commit queue is long")
        overflow = world.http.post("/v1/records", json={"records": [r.hex() for r in records[6:]]})
        _refused(overflow, "the commit queue is full")
        # Held past the freshness limit, no commit has succeeded recently; that reason comes
        # first, since it is what a card's record would wait for.
        time.sleep(
            max(0.0, sequencer.last_commit + service_module.FRESH_SECONDS - time.monotonic())
        )
        time.sleep(0.1)
        _refused(_probe(world), "no commit has succeeded recently")
        assert receipts == {}
        gate.set()
        for thread in submitters:
            thread.join(30)
        assert sorted(receipts) == list(range(6))
        assert _ready(world).nonce == bytes.fromhex(NONCE)
        # The six queued records are stored, the overflowing four are not.
        assert world.service.tree_size() == 6
        assert world.client.submit(records[6]) and world.service.tree_size() == 7
    finally:
        gate.set()
        for thread in submitters:
            thread.join(30)
        world.close()


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of 32 MiB (tmpfs), which the test can grow with a remount."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(where)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root: %s" % done.stderr.strip())
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_nearly_full_disk_refuses_tickets_until_it_has_room(small_disk):
    assert shutil.disk_usage(small_disk).free < service_module.MIN_FREE_BYTES
    world = LoggerWorld("sqlite:///%s" % (small_disk / "log.db"))
    try:
        _refused(_probe(world), "the disk is nearly full")
        subprocess.run(["mount", "-o", "remount,size=128m", str(small_disk)], check=True)
        assert _ready(world).nonce == bytes.fromhex(NONCE)
    finally:
        world.close()
