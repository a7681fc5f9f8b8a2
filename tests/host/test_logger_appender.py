"""The logger's appender in a process of its own (`logger serve`'s default): a batch whose
process dies is refused with 503 and stores nothing half-way, a new process takes the next
batch, and the log still verifies. (Every logger_world test also runs with it.)"""

import os
import signal
import threading
import time

from logger_fixtures import LoggerWorld

from icpurse.logger.client import LoggerError
from icpurse.logger.service.appender import AppenderProcess
from purse.records.logger import Receipt


def _gone(pid, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_killed_appender_process_fails_its_batch_and_a_new_one_takes_the_next(tmp_path):
    w = LoggerWorld("sqlite:///%s" % (tmp_path / "log.db"), sequencer_process=True)
    try:
        assert isinstance(w.service.appender, AppenderProcess)
        a, b = w.new_card(b"A", 1000), w.new_card(b"B")
        for amount in (10, 20, 30):
            w.transfer(a, b, amount)
        first, second, third = (b.client.read_outbox(i) for i in range(3))
        w.client.submit(first)
        (pid,) = w.service.appender.pids()
        # Stopped, the process holds the next batch unanswered when it is killed, whatever
        # the timing.
        os.kill(pid, signal.SIGSTOP)
        answer = {}

        def submit():
            try:
                answer["receipt"] = w.client.submit(second)
            except LoggerError as exc:
                answer["error"] = exc

        thread = threading.Thread(target=submit)
        thread.start()
        time.sleep(0.5)
        os.kill(pid, signal.SIGKILL)
        thread.join(30)
        assert not thread.is_alive()
        error = answer["error"]
        assert error.status == 503 and error.retry_after == 1
        assert "commit failed" in error.reason and "retry" in error.reason
        assert _gone(pid)
        # The next batch goes to the new process (started meanwhile, or awaited by the batch);
        # the refused record may simply be sent again.
        receipts = [w.client.submit(r) for r in (third, second)]
        (replacement,) = w.service.appender.pids()
        assert replacement != pid
        assert [Receipt.decode(r).leaf_index for r in receipts] == [1, 2]
        assert w.service.tree_size() == 3
        checkpoint = w.client.checkpoint()
        for record, receipt in zip((third, second), receipts, strict=True):
            w.client.verify_included(record, receipt, checkpoint)
    finally:
        w.close()


def test_the_appender_process_leaves_with_the_service(tmp_path):
    w = LoggerWorld("sqlite:///%s" % (tmp_path / "log.db"), sequencer_process=True)
    (pid,) = w.service.appender.pids()
    w.close()
    assert _gone(pid)
