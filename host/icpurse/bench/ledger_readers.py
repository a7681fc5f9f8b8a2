"""The ledger readers of `icpurse bench logger --duration --ledger-readers N`: an operator's
dashboards reading GET /v1/ledger in a loop, in every other interval of a sustained load.

Each reader is its own process, as the curl loops of the original report were: in the
benchmark's process their HTTP client and request signing would share one interpreter lock with
the load driver and slow the appends from the client's side, which a logger serving dashboards
on other machines never sees. Their CPU is measured and printed beside the figure, since they
still run on the cores the logger is measured on.
"""

import multiprocessing
import os
import time

import httpx2

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.client.signing import RequestSigning
from purse.crypto.backend import Signer


def _interval_is_odd(start, interval):
    return int((time.perf_counter() - start.value) / interval) % 2 == 1


def _read(url, secret, interval, start, done, reads, cpu):
    """One reader's loop (in its own process). perf_counter is CLOCK_MONOTONIC on Linux, the
    same clock in every process, so the parent's `start` places the intervals here too."""
    signer = Signer(PycaBackend(), secret)
    try:
        with httpx2.Client(base_url=url, auth=RequestSigning(signer), timeout=60) as http:
            while not done.is_set():
                if start.value == 0 or not _interval_is_odd(start, interval):
                    done.wait(0.01)
                    continue
                answer = http.get("/v1/ledger")
                if answer.status_code == 200:
                    with reads.get_lock():
                        reads.value += 1
                elif answer.status_code == 429:
                    # Past the service's limit a dashboard waits as told, as the CLI's clients do.
                    done.wait(min(5.0, float(answer.headers.get("Retry-After", "1"))))
    except KeyboardInterrupt:
        pass
    finally:
        times = os.times()
        with cpu.get_lock():
            cpu.value += times.user + times.system


class LedgerReaders:
    """`count` reader processes signing as the holder of `secret` (the bench issuer's key)."""

    def __init__(self, url, secret, count, interval):
        context = multiprocessing.get_context("spawn")
        self.start = context.Value("d", 0.0)
        self.reads = context.Value("q", 0)
        self.cpu = context.Value("d", 0.0)
        self.done = context.Event()
        self.began = None
        self.processes = [
            context.Process(
                target=_read,
                args=(url, bytes(secret), interval, self.start, self.done, self.reads, self.cpu),
                daemon=True,
            )
            for _ in range(count)
        ]
        for process in self.processes:
            process.start()

    def begin(self, start):
        """The load's first interval started at perf_counter time `start`."""
        self.began = time.perf_counter()
        self.start.value = start

    def stop(self):
        """Stop the readers; returns (reads, their CPU seconds, the seconds they ran)."""
        ran = time.perf_counter() - self.began if self.began else 0.0
        self.done.set()
        for process in self.processes:
            process.join(60)
            if process.is_alive():
                process.kill()
                process.join()
        return self.reads.value, self.cpu.value, ran
