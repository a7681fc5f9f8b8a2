"""The logger's work, apart from HTTP: check records and sequence them into the log.

A transfer log record is stored only if CertT(A) verifies with PkT, VoucherI(A) with PkI and
for the same key, and S with PkUA over G1 recomputed from IdUB and R1 (the patent checks only
the first two). A challenge, named by the payment's identity (PkUA, ChallID, G1), is credited
once: an identical resubmission, or another record of the same amount, gets the stored receipt
(a payer's second amount is credited as a leaf of its own, with evidence), and a second payment
with a payer counter already used is credited with evidence of the clone (appender.py).
Record formats and checks come from purse.records; signatures go through the pyca backend.

A submission passes two stages. The verifier pool (icpurse.logger.verifier) parses the record
and checks its signatures, in worker processes. The sequencer (icpurse.logger.sequencer) then
gathers what waits into one batch, which the appender (appender.py) checks against what is
stored and appends in one transaction, on the sequencer's thread or in a process of its own
that the event loop awaits.
"""

import shutil
import time

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger import DEFAULT_WINDOW
from icpurse.logger.sequencer import Overloaded, Sequencer
from icpurse.logger.service.appender import Appender, AppenderProcess
from icpurse.logger.service.errors import SubmitError, Unavailable, refusal
from icpurse.logger.service.journals import JournalViews
from icpurse.logger.service.ledger import LedgerViews
from icpurse.logger.service.settlement import SettlementViews
from icpurse.logger.service.totals import TotalsViews
from icpurse.logger.storage import StorageError
from icpurse.logger.verifier import Prepared, VerifierPool
from icpurse.logger.workers import WorkerFailed, describe
from purse.records.checkpoint import Checkpoint
from purse.records.logger import Ticket

MAX_BATCH_RECORDS = 1000
# A heartbeat write keeps "a recent commit succeeded" true while no record arrives.
HEARTBEAT_SECONDS = 2.0
FRESH_SECONDS = 10.0
MIN_FREE_BYTES = 64 * 1024 * 1024

__all__ = ["DEFAULT_WINDOW", "LoggerService", "Unavailable"]


class LoggerService(SettlementViews, JournalViews, TotalsViews, LedgerViews):
    """The logger. With `sequencer_process`, batches are appended in a process of their own
    (appender.py); otherwise on the sequencer's thread."""

    def __init__(self, storage, signer, ca_key=None, issuer_key=None, clock=time.time,
                 window=None, verifier_processes=0, signer_processes=0,
                 sequencer_process=False):  # fmt: skip
        self.storage = storage
        self.signer = signer
        self.backend = PycaBackend()
        self.ca_key = self._anchor("ca_key", ca_key)
        self.issuer_key = self._anchor("issuer_key", issuer_key)
        self._anchor("logger_key", signer.public_key)
        # The log's identity, which every record it signs names and every voucher it takes
        # must name: not PkL alone, since two loggers may share a key (docs/PROTOCOL.md 7.7).
        self.log_id = storage.log_id(signer.public_key)
        self.window = self._window(window)
        self.clock = clock
        # L-time never goes back, across restarts and a wall clock set back too: it starts from
        # the latest one stored, and each heartbeat brings in what other workers stored.
        self._last_ltime = self._high_water()
        self.verifier = VerifierPool(self.ca_key, self.issuer_key, self.log_id, verifier_processes)
        if sequencer_process:
            self.appender = AppenderProcess(storage.url, signer, self.window, signer_processes)
            self.sequencer = Sequencer(self._commit_batch_async)
        else:
            self.appender = Appender(storage, signer, self.window, signer_processes)
            self.sequencer = Sequencer(self._commit_batch)

    def _anchor(self, name, given):
        """Trust anchors are fixed at the first start and kept in the database."""
        stored = self.storage.meta(name)
        if stored is None:
            if given is None:
                raise StorageError("a new logger database needs the %s" % name.replace("_", " "))
            # Workers that start together on a new database race here: the first one's value
            # stays, and the others compare theirs with it.
            self.storage.put_meta(name, given)
            stored = self.storage.meta(name)
        if given is not None and bytes(given) != stored:
            raise StorageError("this database belongs to another %s" % name.replace("_", " "))
        return stored

    def _window(self, given):
        """The settlement window is fixed when the database is made: cards and payers were
        promised it."""
        stored = self.storage.meta("window")
        if stored is None:
            value = DEFAULT_WINDOW if given is None else int(given)
            if not 0 <= value < 2**32:
                raise StorageError("the settlement window must be 0 to 2**32 - 1 seconds")
            self.storage.put_meta("window", str(value).encode())
            stored = self.storage.meta("window")
        value = int(stored.decode())
        if given is not None and int(given) != value:
            raise StorageError(
                "this database has a settlement window of %d s, not %d" % (value, int(given))
            )
        return value

    def close(self):
        """Stop the verifiers and the appender (the sequencer is stopped by its owner)."""
        self.verifier.close()
        self.appender.close()

    def ltime(self):
        """The logger's time, which it signs and cards live by: never goes back."""
        now = int(self.clock())
        if now > self._last_ltime:
            self._last_ltime = now
        return self._last_ltime

    # --- submission -------------------------------------------------------------------------

    async def submit(self, records):
        """Check and store records; one result per record, in order (dicts for the API).

        Parsing and signature checks run in the verifier pool (icpurse.logger.verifier), the
        checks against stored state in the sequencer's transaction.
        """
        try:
            checked = await self.verifier.check(records)
        except Exception as exc:  # noqa: BLE001 - nothing was stored; the client may retry.
            raise Unavailable(
                "the record checks failed (%s); retry" % exc.__class__.__name__
            ) from None
        results = [None] * len(records)
        ready = []
        for pos, item in enumerate(checked):
            if isinstance(item, Prepared):
                ready.append((pos, item))
            else:
                results[pos] = refusal(SubmitError(*item))
        if ready:
            try:
                stored = await self.sequencer.submit([p for _, p in ready])
            except Overloaded:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed commit stored nothing.
                # The batch's transaction was rolled back: nothing of it is stored, and a
                # retry is safe because an identical record gets the same receipt. A failure
                # is named by its class, and by its message where that is public (a database's
                # reason), wherever it was raised (workers.describe).
                name = str(exc) if isinstance(exc, WorkerFailed) else describe(exc)
                raise Unavailable("the commit failed (%s); retry" % name) from None
            for (pos, _), result in zip(ready, stored, strict=True):
                results[pos] = result
        return results

    def _commit_batch(self, items):
        # The batch's receipts carry the service's L-time, also in an appender process, so that
        # one clock times the tickets and the receipts of a worker.
        return self.appender.commit(items, self.ltime())

    async def _commit_batch_async(self, items):
        return await self.appender.commit(items, self.ltime())

    # --- status and heartbeat ---------------------------------------------------------------

    def health(self):
        """None if the logger can take a record now, else the reason it cannot."""
        if self.sequencer.last_error is not None:
            return "the last commit failed: %s" % self.sequencer.last_error
        if time.monotonic() - self.sequencer.last_commit > FRESH_SECONDS:
            return "no commit has succeeded recently"
        if self.sequencer.queued > self.sequencer.max_queue // 2:
            return "the commit queue is long"
        path = getattr(self.storage, "path", None)
        if path is not None and shutil.disk_usage(path.parent).free < MIN_FREE_BYTES:
            return "the disk is nearly full"
        return None

    def ticket(self, nonce):
        """The ready-ticket of embodiment 2 for a card's nonce, if the logger is healthy."""
        problem = self.health()
        if problem is not None:
            raise Unavailable(problem)
        return Ticket(bytes(nonce), self.ltime(), self.log_id).sign(self.signer).encode()

    def _high_water(self):
        """The latest L-time the logger stored anywhere it signs one."""
        column, checkpoint = self.storage.ltime_marks()
        return max(column, 0 if checkpoint is None else Checkpoint.decode(checkpoint).ltime)

    def heartbeat(self):
        self.storage.write_heartbeat(self.ltime())
        # Only the heartbeat row, which every worker raises: the full high-water mark scans the
        # leaves, which is for start-up, not for every 2 s in the sequencer's turn.
        self._last_ltime = max(self._last_ltime, self.storage.heartbeat_ltime())

    def checkpoint_wal(self):
        """Copy the write-ahead log into the database (SQLite; storage.checkpoint_wal)."""
        self.storage.checkpoint_wal()
