"""A service worker killed under load (issue 22, problem 9: BrokenPipe tracebacks appeared in
the log after a worker was killed): its helper processes leave quietly, the other worker goes
on answering, and the log holds no traceback."""

import os
import signal
import subprocess
import threading
import time

from icpurse.bench.loadgen import LoadGenerator
from icpurse.logger.client import LoggerClient, LoggerError
from icpurse.logger.process import LoggerProcess


def _children(pid):
    done = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(p) for p in done.stdout.split()]


def test_a_killed_worker_leaves_no_traceback_and_the_other_answers(tmp_path):
    gen = LoadGenerator(b"killed worker", 8)
    server = LoggerProcess(tmp_path, "sqlite:///%s" % (tmp_path / "log.db"), gen.ca.public_key,
                           gen.issuer.public_key, workers=2).start()  # fmt: skip
    try:
        feed = LoggerClient(server.url, server.public_key, signers={"issuer": gen.issuer})
        gen.join(feed.log_id())  # The records are of this logger's log.
        for voucher in gen.vouchers():
            feed.publish_voucher(voucher)
        records = gen.records(1500)
        stop = threading.Event()
        answered = []

        def stream(part):
            client = LoggerClient(server.url, timeout=5)
            for i in range(part, len(records), 4):
                if stop.is_set():
                    return
                try:
                    client.submit(records[i])
                    answered.append(i)
                except LoggerError:
                    pass  # The killed worker's connections fail; the client would retry.

        threads = [threading.Thread(target=stream, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        # uvicorn's workers are the supervisor's children with helper processes of their own.
        workers = [c for c in _children(server.process.pid) if _children(c)]
        assert len(workers) == 2, workers
        helpers = _children(workers[0])
        os.kill(workers[0], signal.SIGKILL)
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert answered
        # New connections reach the worker that lives: every record is receipted.
        after = LoggerClient(server.url, server.public_key, timeout=10)
        for record in gen.records(20):
            after.submit(record)
        after.close()
        # The dead worker's helpers noticed and left.
        deadline = time.monotonic() + 10
        while any(os.path.exists("/proc/%d" % h) for h in helpers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [h for h in helpers if os.path.exists("/proc/%d" % h)]
        feed.close()
    finally:
        server.stop()
    with open(server.log.name) as out:
        log = out.read()
    assert "Traceback" not in log and "BrokenPipe" not in log, log[-3000:]
