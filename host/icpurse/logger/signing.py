"""Receipt signing for the sequencer, on processes of its own.

The sequencer signs a batch's receipts while it holds the append lock, so every other append
waits for them. pyca/cryptography releases the interpreter for each signature, but building and
encoding a receipt takes it back, and on threads of the service process that competes with the
event loop and the sequencer. Measured with `icpurse bench logger`'s batch load, the service
process spent about 245 µs of CPU a record with signer threads and about 140 µs with signer
processes, and batched throughput rose by a fifth. The appender (service/appender.py, on the
sequencer's thread or in a process of its own, whose children the signers then are) hands each
worker an equal share of a batch and waits for the answers (workers.py). A small batch is signed on
the calling thread, where a round trip to a process would cost more than the signatures. With
`processes=0` every batch is signed on threads (tests, one-core machines).
"""

import concurrent.futures
import functools
import os

from icpurse.logger.workers import Workers
from purse.records.logger import Receipt

# The signer processes' name in ps and top (workers.name_process).
PROCESS_NAME = "icpurse-sign"
# Batches smaller than this are signed on the calling thread.
INLINE_BELOW = 8
# Receipts a signer thread signs at once (processes=0).
THREAD_CHUNK = 25


def sign_receipts(signer, log_id, rows):
    """Encoded, signed receipts of log `log_id` for (H(record), IdUB, ChallID, index, size,
    L-time) rows."""
    return [Receipt(*row, log_id=log_id).sign(signer).encode() for row in rows]


def _setup_worker(signer, log_id):
    # The Signer reached this process pickled, from the service that started it (its backend
    # left its caches behind); the key is never written anywhere.
    return functools.partial(sign_receipts, signer, log_id)


class ReceiptSigner:
    """`sign(rows)`: encoded receipts of log `log_id`, in order; blocking, for the appender's
    thread."""

    def __init__(self, signer, log_id, processes=0):
        self.signer = signer
        self.log_id = log_id
        self.processes = processes
        if processes:
            self._workers = Workers(processes, _setup_worker, (signer, log_id), PROCESS_NAME)
        else:
            self._threads = concurrent.futures.ThreadPoolExecutor(
                os.cpu_count() or 1, "icpurse-signer"
            )

    def start(self):
        """Start the worker processes now, so that the first batch does not wait for them."""
        if self.processes:
            self._workers.start()

    def sign(self, rows):
        if len(rows) < INLINE_BELOW:
            return sign_receipts(self.signer, self.log_id, rows)
        if self.processes == 0:
            chunks = [rows[i : i + THREAD_CHUNK] for i in range(0, len(rows), THREAD_CHUNK)]
            out = []
            signers, ids = [self.signer] * len(chunks), [self.log_id] * len(chunks)
            for part in self._threads.map(sign_receipts, signers, ids, chunks):
                out += part
            return out
        # A dead worker raises WorkerDied: this batch's commit fails and is rolled back (its
        # requests get a 503 and may retry), and the next batch finds a new worker.
        share = -(-len(rows) // self.processes)
        out = []
        for part in self._workers.call_all(
            [rows[i : i + share] for i in range(0, len(rows), share)]
        ):
            out += part
        return out

    def pids(self):
        return self._workers.pids() if self.processes else []

    def close(self):
        if self.processes:
            self._workers.close()
        else:
            self._threads.shutdown(wait=True)
