"""Receipt signing for the sequencer, on processes of its own.

The sequencer signs a batch's receipts while it holds the append lock, so every other append
waits for them. pyca/cryptography releases the interpreter for each signature, but building and
encoding a receipt takes it back, and on threads of the service process that competes with the
event loop, the sequencer and the verifier pool's result thread. Measured with `icpurse bench
logger`'s batch load, the service process spent about 245 µs of CPU a record with signer
threads and about 140 µs with signer processes, and batched throughput rose by a fifth. A small
batch is signed on the calling thread, where a round trip to a process would cost more than
the signatures. With `processes=0` every batch is signed on threads (tests, one-core machines).
"""

import concurrent.futures
import concurrent.futures.process
import multiprocessing
import os

from icpurse.logger.verifier import watch_parent
from purse.records.logger import Receipt

# Receipts a worker signs at once; a batch is cut into chunks of this size.
CHUNK = 25
# Batches smaller than this are signed on the calling thread.
INLINE_BELOW = 8


def sign_receipts(signer, rows):
    """Encoded, signed receipts for (H(record), IdUB, ChallID, index, size, L-time) rows."""
    return [Receipt(*row).sign(signer).encode() for row in rows]


# The Signer of a worker process, set once by the pool's initializer.
_signer = None


def _start_worker(signer):
    global _signer
    _signer = signer
    watch_parent()


def _sign_in_worker(rows):
    return sign_receipts(_signer, rows)


class ReceiptSigner:
    """`sign(rows)`: encoded receipts, in order; blocking, for the sequencer's thread."""

    def __init__(self, signer, processes=0):
        self.signer = signer
        self.processes = processes
        self._executor = self._new_executor()

    def _new_executor(self):
        if self.processes == 0:
            return concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1, "icpurse-signer")
        # The Signer travels to the workers by pickling (its backend leaves its caches behind),
        # through the pipe to a child process; the key is never written anywhere.
        return concurrent.futures.ProcessPoolExecutor(
            self.processes,
            multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.signer,),
        )

    def start(self):
        """Start every worker now, so that the first batch does not wait for them."""
        if self.processes:
            for future in [
                self._executor.submit(_sign_in_worker, []) for _ in range(self.processes)
            ]:
                future.result()

    def sign(self, rows):
        if len(rows) < INLINE_BELOW:
            return sign_receipts(self.signer, rows)
        chunks = [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]
        out = []
        try:
            if self.processes == 0:
                work = [self._executor.submit(sign_receipts, self.signer, c) for c in chunks]
            else:
                work = [self._executor.submit(_sign_in_worker, c) for c in chunks]
            for future in work:
                out += future.result()
        except concurrent.futures.process.BrokenProcessPool:
            # A worker died: this batch's commit fails and is rolled back (its requests get a
            # 503 and may retry); the next batch gets a fresh pool.
            self._executor.shutdown(wait=False)
            self._executor = self._new_executor()
            raise
        return out

    def close(self):
        self._executor.shutdown(wait=True)
