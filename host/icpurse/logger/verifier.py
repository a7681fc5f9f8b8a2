"""The logger's record checks that need no database: parse a log record and verify CertT(A),
VoucherI(A) and S, off the event loop and off the sequencer.

`Checker` does the work for one record. `VerifierPool` runs it on worker processes: parsing is
pure Python, and in the sequencer's process it would hold the GIL against the one thread that
appends to the log, which then waits for the interpreter at every database call while every
other append waits for it. The pool batches what arrives while its workers are busy, so single
submissions under load cost one round trip to a worker per batch, not per record. With
`processes=0` the checks run on a thread in-process (tests, and machines with one core).
"""

import asyncio
import collections
import concurrent.futures

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.workers import Workers
from purse.errors import CredentialError, CryptoError, RecordError
from purse.records import fields as f
from purse.records.log import LogRecord

# The verifier processes' name in ps and top (workers.name_process).
PROCESS_NAME = "icpurse-verify"
# Records a worker takes at once; what waits beyond that goes to the next free worker.
MAX_CHUNK = 64
# Parsed and verified credentials kept per worker before the caches are dropped.
CACHE_LIMIT = 100000


class Refused(Exception):
    """Why the checks refuse a record: an HTTP status and a reason for the client."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Prepared:
    """A record that passed every check that needs no sequencing.

    A worker process sends back only `fields` (a tuple of plain values, which pickle at C
    speed), not the record, which the service already holds; the service builds this from both.
    """

    __slots__ = (
        "amount",
        "chall_id",
        "counter",
        "data",
        "fields",
        "identity",
        "not_after",
        "not_before",
        "payer_id",
        "payer_key",
        "payment_key",
        "recipient_id",
        "record_hash",
        "voucher",
    )  # fmt: skip

    def __init__(self, data, fields):
        (self.record_hash, self.payer_key, self.payer_id, self.counter, self.recipient_id,
         self.chall_id, g1, self.amount, self.voucher, self.not_before,
         self.not_after) = fields  # fmt: skip
        self.data = data
        self.fields = fields  # What goes on to an appender process (service/appender.py).
        # The challenge's identity and the payment's key, as service.journals.payment_identity
        # and service.journals.payment_key make them from a Payment.
        self.identity = self.payer_key + self.chall_id + g1
        self.payment_key = self.identity + f.u32(self.counter)


def _fields(data, record, voucher_row):
    """What the sequencer needs of a checked record, in Prepared's order."""
    payment = record.payment
    return (
        record.hash(),
        payment.certificate.public_key,
        payment.certificate.card_id,
        payment.counter,
        record.recipient_id,
        payment.chall_id,
        payment.g1,
        payment.x,
        # The voucher's row for the logger's vouchers table: (sequence, issued, PkU, record).
        voucher_row,
        # CertT(A)'s validity, which the sequencer checks at its L-time.
        payment.certificate.not_before,
        payment.certificate.not_after,
    )


class Checker:
    """Parses and verifies log records against the trust anchors PkT and PkI, for the log
    `log_id`."""

    def __init__(self, ca_key, issuer_key, log_id):
        self.ca_key = bytes(ca_key)
        self.issuer_key = bytes(issuer_key)
        self.log_id = bytes(log_id)
        self.backend = PycaBackend()
        self._parsed = {}
        self._verified = {}
        self._voucher_rows = {}

    def _verified_once(self, record, key):
        """Certificates and vouchers are parsed (LogRecord.decode with the `_parsed` cache) and
        verified once per distinct encoding; the parsed object is then shared and marked."""
        if id(record) not in self._verified:
            record.verify(self.backend, key)
            self._verified[id(record)] = record

    def _voucher_row(self, voucher):
        """A verified voucher's row, encoded once per distinct voucher (it is shared)."""
        row = self._voucher_rows.get(id(voucher))
        if row is None:
            row = (voucher.sequence, voucher.issued, voucher.public_key, voucher.encode())
            self._voucher_rows[id(voucher)] = row
        return row

    def fields(self, data):
        """The Prepared fields of a record that passes; raises Refused if it does not."""
        if len(self._parsed) > CACHE_LIMIT:
            # Bounded caches: dropping them only costs re-parsing and re-verifying.
            self._parsed.clear()
            self._verified.clear()
            self._voucher_rows.clear()
        try:
            record = LogRecord.decode(data, self._parsed)
        except RecordError as exc:
            raise Refused(400, "malformed log record: %s" % exc) from None
        payment = record.payment
        try:
            self._verified_once(payment.certificate, self.ca_key)
            self._verified_once(payment.voucher, self.issuer_key)
            if payment.voucher.public_key != payment.certificate.public_key:
                raise CredentialError("the voucher was issued to another card")
            payment.verify(self.backend, payment.certificate.public_key)
            # The recipient card's signature: L credits only a payment a card accepted.
            self._verified_once(record.certificate, self.ca_key)
            record.verify_recipient(self.backend)
        except CryptoError as exc:
            raise Refused(422, "record does not verify: %s" % exc) from None
        if payment.voucher.log_id != self.log_id:
            # The payer belongs to another log (maybe one that shares this logger's key): its
            # payments are settled there, and credited here they would be counted twice.
            raise Refused(
                422, "the payer's voucher names log %s, not this log %s"
                % (payment.voucher.log_id.hex(), self.log_id.hex())
            )  # fmt: skip
        return _fields(bytes(data), record, self._voucher_row(payment.voucher))

    def check(self, data):
        """A Prepared record, or (status, reason) if it is refused."""
        try:
            return Prepared(bytes(data), self.fields(data))
        except Refused as exc:
            return (exc.status, exc.reason)

    def check_plain(self, records):
        """(fields, refusals) for a list of records, as a worker sends them back: `fields` has
        a Prepared's fields or None for each record, `refusals` maps the position of each
        refused record to (status, reason)."""
        fields = []
        refusals = {}
        for pos, data in enumerate(records):
            try:
                fields.append(self.fields(data))
            except Refused as exc:
                fields.append(None)
                refusals[pos] = (exc.status, exc.reason)
        return fields, refusals


def _setup_worker(ca_key, issuer_key, log_id):
    return Checker(ca_key, issuer_key, log_id).check_plain


class VerifierPool:
    """`await check(records)`: one Prepared or (status, reason) per record, in order."""

    def __init__(self, ca_key, issuer_key, log_id, processes=0):
        self.processes = processes
        if processes > 0:
            anchors = (bytes(ca_key), bytes(issuer_key), bytes(log_id))
            self._workers = Workers(processes, _setup_worker, anchors, PROCESS_NAME)
            # Two batches a worker at a time: the next one waits in its socket, so a worker never
            # idles while the event loop is busy elsewhere.
            self._lanes = 2 * processes
            self._share_among = processes
        else:
            self._checker = Checker(ca_key, issuer_key, log_id)
            self._thread = concurrent.futures.ThreadPoolExecutor(1, "icpurse-verifier")
            self._lanes = 1
            self._share_among = 1
        self._waiting = collections.deque()
        self._waiting_records = 0
        self._scheduled = False
        self._busy = 0

    async def start(self):
        """Start every worker now, so that the first submissions do not wait for processes to
        be spawned and the core to be imported."""
        if self.processes:
            await asyncio.get_running_loop().run_in_executor(None, self._workers.start)

    def pids(self):
        return self._workers.pids() if self.processes else []

    async def check(self, records):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((records, future))
        self._waiting_records += len(records)
        if not self._scheduled:
            # Dispatched on the loop's next turn, not now: requests that arrive together (the
            # clients answered by one commit send their next records at once) are then shared
            # among the workers, instead of the first few taking every lane one record each
            # while the rest queue behind them.
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return await future

    def _dispatch(self):
        self._scheduled = False
        # An equal share of what waits for each worker, in whole requests of up to MAX_CHUNK
        # records (a larger request goes alone).
        share = min(MAX_CHUNK, -(-self._waiting_records // self._share_among))
        while self._waiting and self._busy < self._lanes:
            taken = [self._waiting.popleft()]
            size = len(taken[0][0])
            while self._waiting and size + len(self._waiting[0][0]) <= share:
                taken.append(self._waiting.popleft())
                size += len(taken[-1][0])
            self._waiting_records -= size
            self._busy += 1
            asyncio.get_running_loop().create_task(self._run(taken))

    async def _check_chunk(self, chunk):
        if self.processes:
            return await self._workers.submit(chunk)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._checker.check_plain, chunk)

    async def _run(self, taken):
        records = [data for request, _ in taken for data in request]
        try:
            # A large request is cut into chunks that the free workers share.
            chunks = [records[i : i + MAX_CHUNK] for i in range(0, len(records), MAX_CHUNK)]
            answers = await asyncio.gather(*(self._check_chunk(c) for c in chunks))
        except Exception as exc:  # noqa: BLE001 - every waiting request must hear of it.
            # A worker died (killed, out of memory) or failed: these requests fail and may be
            # retried; a dead worker has been replaced for the next ones.
            for _, future in taken:
                if not future.done():
                    future.set_exception(exc)
        else:
            results = []
            for chunk, (fields, refusals) in zip(chunks, answers, strict=True):
                for pos, data in enumerate(chunk):
                    refused = refusals.get(pos)
                    results.append(Prepared(data, fields[pos]) if refused is None else refused)
            pos = 0
            for request, future in taken:
                if not future.done():
                    future.set_result(results[pos : pos + len(request)])
                pos += len(request)
        finally:
            self._busy -= 1
            self._dispatch()

    def close(self):
        if self.processes:
            self._workers.close()
        else:
            self._thread.shutdown(wait=True)
