"""The logger's work, apart from HTTP: check records and sequence them into the log.

A transfer log record is stored only if CertT(A) verifies with PkT, VoucherI(A) with PkI and
for the same key, and S with PkUA over G1 recomputed from IdUB and R1 (the patent checks only
the first two). The payment's identity (PkUA, ChallID, G1) is stored once: an identical
resubmission gets the same receipt, a different record with that identity is refused and kept
as evidence, and so is a second payment with a payer counter already used — proof of a clone.
Record formats and checks come from purse.records; signatures go through the pyca backend.
"""

import shutil
import time

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger import merkle
from icpurse.logger.ledger import LedgerViews, SubmitError
from icpurse.logger.sequencer import Overloaded, Sequencer
from icpurse.logger.settlement import SettlementViews
from icpurse.logger.storage import StorageError
from purse.errors import CredentialError, CryptoError, RecordError
from purse.records import fields as f
from purse.records.log import LogRecord
from purse.records.logger import Receipt, Ticket

MAX_BATCH_RECORDS = 1000
# The settlement window (docs/PROTOCOL.md): how long, in seconds of L-time, a payment may stay
# unlogged before it is refunded, and a revoked card's late logs are still counted.
DEFAULT_WINDOW = 86400
# A heartbeat write keeps "a recent commit succeeded" true while no record arrives.
HEARTBEAT_SECONDS = 2.0
FRESH_SECONDS = 10.0
MIN_FREE_BYTES = 64 * 1024 * 1024
# An upsert, so that workers writing their heartbeats at once never collide.
_HEARTBEAT = (
    "INSERT INTO heartbeat (id, ltime) VALUES (1, ?)"
    " ON CONFLICT (id) DO UPDATE SET ltime = excluded.ltime"
)


class Unavailable(Exception):
    """The logger cannot promise to store a record now (503, Retry-After)."""


class Prepared:
    """A record that passed every check that needs no sequencing."""

    def __init__(self, data, record):
        payment = record.payment
        self.data = bytes(data)
        self.record = record
        self.identity = payment.certificate.public_key + payment.chall_id + payment.g1
        self.record_hash = f.record_hash(self.data)
        self.payer_key = payment.certificate.public_key
        self.payer_id = payment.certificate.card_id
        self.counter = payment.counter
        self.recipient_id = record.recipient_id
        self.chall_id = payment.chall_id
        self.amount = payment.x
        self.voucher = payment.voucher


class LoggerService(SettlementViews, LedgerViews):
    def __init__(self, storage, signer, ca_key=None, issuer_key=None, clock=time.time,
                 window=None):  # fmt: skip
        self.storage = storage
        self.signer = signer
        self.clock = clock
        self.backend = PycaBackend()
        self.ca_key = self._anchor("ca_key", ca_key)
        self.issuer_key = self._anchor("issuer_key", issuer_key)
        self._anchor("logger_key", signer.public_key)
        self.window = self._window(window)
        self._last_ltime = 0
        self._parsed = {}
        self._verified = {}
        self.sequencer = Sequencer(self._commit_batch)

    def _anchor(self, name, given):
        """Trust anchors are fixed at the first start and kept in the database."""
        stored = self.storage.meta(name)
        if stored is None:
            if given is None:
                raise StorageError("a new logger database needs the %s" % name.replace("_", " "))
            self.storage.write([("INSERT INTO meta (key, value) VALUES (?, ?)", (name, given))])
            return bytes(given)
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
            self.storage.write(
                [("INSERT INTO meta (key, value) VALUES (?, ?)", ("window", str(value).encode()))]
            )
            return value
        value = int(stored.decode())
        if given is not None and int(given) != value:
            raise StorageError(
                "this database has a settlement window of %d s, not %d" % (value, int(given))
            )
        return value

    def ltime(self):
        """The logger's time, which it signs and cards live by: never goes back."""
        now = int(self.clock())
        if now > self._last_ltime:
            self._last_ltime = now
        return self._last_ltime

    # --- submission -------------------------------------------------------------------------

    def _verified_once(self, record, key):
        """Certificates and vouchers are parsed (LogRecord.decode with the `_parsed` cache) and
        verified once per distinct encoding; the parsed object is then shared and marked."""
        if id(record) not in self._verified:
            record.verify(self.backend, key)
            self._verified[id(record)] = record

    def prepare(self, data):
        """Parse and verify one log record; raises SubmitError with the reason."""
        if len(self._parsed) > 100000:
            # Bounded caches: dropping them only costs re-parsing and re-verifying.
            self._parsed.clear()
            self._verified.clear()
        try:
            record = LogRecord.decode(data, self._parsed)
        except RecordError as exc:
            raise SubmitError(400, "malformed log record: %s" % exc) from None
        payment = record.payment
        try:
            self._verified_once(payment.certificate, self.ca_key)
            self._verified_once(payment.voucher, self.issuer_key)
            if payment.voucher.public_key != payment.certificate.public_key:
                raise CredentialError("the voucher was issued to another card")
            payment.verify(self.backend, payment.certificate.public_key)
        except CryptoError as exc:
            raise SubmitError(422, "record does not verify: %s" % exc) from None
        prepared = Prepared(data, record)
        if self.is_closed(prepared.payer_id):
            raise SubmitError(
                403, "the payer card %s is revoked and its settlement window has passed"
                % prepared.payer_id.hex()
            )  # fmt: skip
        if not self.known_card(prepared.recipient_id):
            raise SubmitError(422, "unknown recipient card %s" % prepared.recipient_id.hex())
        return prepared

    async def submit(self, records):
        """Check and store records; one result per record, in order (dicts for the API)."""
        results = [None] * len(records)
        ready = []
        for pos, data in enumerate(records):
            try:
                ready.append((pos, self.prepare(data)))
            except SubmitError as exc:
                results[pos] = _refusal(exc)
        if ready:
            try:
                stored = await self.sequencer.submit([p for _, p in ready])
            except Overloaded:
                raise
            except Exception as exc:  # noqa: BLE001 - a failed commit stored nothing.
                # The batch's transaction was rolled back: nothing of it is stored, and a
                # retry is safe because an identical record gets the same receipt.
                raise Unavailable(
                    "the commit failed (%s); retry" % exc.__class__.__name__
                ) from None
            for (pos, _), result in zip(ready, stored, strict=True):
                results[pos] = result
        return results

    def _commit_batch(self, items):
        return self.storage.append(lambda tx: self._append(tx, items))

    def _append(self, tx, items):
        size = tx.one("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM leaves")[0]
        results = [None] * len(items)
        fresh = []
        first = {}
        counters = {}
        ltime = self.ltime()
        # What the batch needs from the database, in one query per kind rather than one per
        # record: each query is a round trip to a PostgreSQL server.
        identities = [item.identity for item in items]
        stored = {
            bytes(r[0]): r[1:]
            for r in _rows_in(tx, "SELECT identity, leaf_index, record_hash, receipt FROM leaves"
                              " WHERE identity IN (%s)", identities)
        }  # fmt: skip
        settled = {
            bytes(r[0]): r[1]
            for r in _rows_in(tx, "SELECT identity, kind FROM settlements WHERE identity IN (%s)",
                              identities)
        }  # fmt: skip
        closed = {
            bytes(r[0])
            for r in _rows_in(tx, "SELECT card_id FROM recoveries WHERE card_id IN (%s)",
                              list({item.payer_id for item in items}))
        }  # fmt: skip
        wanted = {(item.payer_key, item.counter) for item in items}
        used = {}
        for key, counter, index in _rows_in(
            tx, "SELECT payer_key, counter, leaf_index FROM leaves WHERE counter IN (%s)",
            list({item.counter for item in items}),
        ):  # fmt: skip
            if (bytes(key), counter) in wanted:
                used[(bytes(key), counter)] = index
        for pos, item in enumerate(items):
            row = stored.get(item.identity)
            if row is not None:
                results[pos] = self._existing(tx, item, row, ltime)
                continue
            if item.identity in first:
                continue  # Resolved after the batch: the same result, or a conflict.
            if item.identity in settled:
                # Refunded to its payer (or reverted by a recovery) after the window: kept as
                # evidence, never credited.
                _evidence(tx, "settled-late", item, -1, ltime)
                results[pos] = _refusal(
                    SubmitError(409, "this payment was %s to its payer after the settlement "
                                "window; the record is kept as evidence" % settled[item.identity])
                )  # fmt: skip
                continue
            if item.payer_id in closed:
                results[pos] = _refusal(
                    SubmitError(403, "the payer card %s is closed" % item.payer_id.hex())
                )
                continue
            pair = (item.payer_key, item.counter)
            clash = used.get(pair, counters.get(pair))
            if clash is not None:
                _evidence(tx, "counter-reuse", item, clash, ltime)
                results[pos] = _refusal(
                    SubmitError(409, "payer counter %d already used: clone" % item.counter, clash)
                )
                continue
            first[item.identity] = pos
            counters[pair] = size + len(fresh)
            fresh.append((pos, item))
        tree_size = size + len(fresh)
        if fresh:
            self._store_leaves(tx, size, tree_size, fresh, results, ltime)
        for pos, item in enumerate(items):
            if results[pos] is None:
                original = items[first[item.identity]]
                if original.record_hash == item.record_hash:
                    results[pos] = results[first[item.identity]]
                else:
                    index = results[first[item.identity]]["leaf_index"]
                    results[pos] = self._conflict(tx, item, index, ltime)
        tx.run(_HEARTBEAT, (ltime,))
        return results

    def _store_leaves(self, tx, size, tree_size, fresh, results, ltime):
        def get(level, index):
            row = tx.one("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index))
            if row is None:
                raise KeyError((level, index))
            return bytes(row[0])

        leaf_hashes = [merkle.leaf_hash(item.data) for _, item in fresh]
        nodes = merkle.new_nodes(size, leaf_hashes, get)
        rows = []
        for k, (pos, item) in enumerate(fresh):
            index = size + k
            receipt = Receipt(
                item.record_hash, item.recipient_id, item.chall_id, index, tree_size, ltime
            ).sign(self.signer)
            encoded = receipt.encode()
            rows.append(
                (index, item.identity, item.data, item.record_hash, item.payer_key,
                 item.payer_id, item.counter, item.recipient_id, item.amount, ltime, encoded)
            )  # fmt: skip
            results[pos] = _accepted(encoded, index, tree_size)
        tx.run_many(
            "INSERT INTO leaves (leaf_index, identity, record, record_hash, payer_key, payer_id,"
            " counter, recipient_id, amount, ltime, receipt) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        tx.run_many("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        vouchers = {}
        for _, item in fresh:
            v = item.voucher
            key = (item.payer_id, v.sequence)
            if key not in vouchers:  # Many records of a batch show one voucher: encode it once.
                vouchers[key] = (item.payer_id, v.sequence, v.issued, v.public_key, v.encode())
        tx.run_many(
            "INSERT INTO vouchers (card_id, sequence, issued, public_key, record)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (card_id, sequence) DO NOTHING",
            list(vouchers.values()),
        )

    def _existing(self, tx, item, row, ltime):
        index, record_hash, receipt = row
        if bytes(record_hash) == item.record_hash:
            tree = Receipt.decode(bytes(receipt)).tree_size
            return _accepted(bytes(receipt), index, tree)
        return self._conflict(tx, item, index, ltime)

    def _conflict(self, tx, item, index, ltime):
        _evidence(tx, "identity-conflict", item, index, ltime)
        return _refusal(
            SubmitError(409, "another record for this payment is already stored", index)
        )

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
        return Ticket(bytes(nonce), self.ltime()).sign(self.signer).encode()

    def heartbeat(self):
        ltime = self.ltime()
        self.storage.write([(_HEARTBEAT, (ltime,))])


def _accepted(receipt, index, tree_size):
    return {
        "status": 200,
        "receipt": receipt.hex(),
        "leaf_index": int(index),
        "tree_size": int(tree_size),
    }


def _refusal(exc):
    result = {"status": exc.status, "error": exc.reason}
    if exc.conflicts_with is not None:
        result["conflicts_with"] = int(exc.conflicts_with)
    return result


def _rows_in(tx, sql, values, chunk=500):
    """Rows of `sql`, whose "IN (%s)" takes `values`, queried `chunk` values at a time."""
    rows = []
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        rows += tx.all(sql % ", ".join("?" * len(part)), tuple(part))
    return rows


def _evidence(tx, kind, item, conflicts_with, ltime):
    tx.run(
        "INSERT INTO evidence (kind, identity, payer_id, record, conflicts_with, ltime)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (kind, item.identity, item.payer_id, item.data, conflicts_with, ltime),
    )
