"""The logger's work, apart from HTTP: check records and sequence them into the log.

A transfer log record is stored only if CertT(A) verifies with PkT, VoucherI(A) with PkI and
for the same key, and S with PkUA over G1 recomputed from IdUB and R1 (the patent checks only
the first two). The payment's identity (PkUA, ChallID, G1) is stored once: an identical
resubmission gets the same receipt, a different record with that identity is refused and kept
as evidence, and so is a second payment with a payer counter already used — proof of a clone.
Record formats and checks come from purse.records; signatures go through the pyca backend.

A submission passes two stages. The verifier pool (verifier.py) parses the record and checks
its signatures, in worker processes. The sequencer then checks it against what is stored —
payer card revoked past its window or closed, recipient unknown, identity or payer counter
already used — with one query per kind for its whole batch, inside the transaction that appends
the batch, so nothing can change between check and append; the receipt signers (signing.py)
sign the receipts while it holds the append lock.
"""

import shutil
import time

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger import merkle
from icpurse.logger.ledger import LedgerViews, SubmitError
from icpurse.logger.sequencer import Overloaded, Sequencer
from icpurse.logger.settlement import SettlementViews
from icpurse.logger.signing import ReceiptSigner
from icpurse.logger.storage import StorageError
from icpurse.logger.verifier import Prepared, VerifierPool
from purse.records.logger import Receipt, Ticket

MAX_BATCH_RECORDS = 1000
# Card ids remembered as known to the vouchers table before the set is dropped.
KNOWN_CARDS_LIMIT = 1000000
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


class LoggerService(SettlementViews, LedgerViews):
    def __init__(self, storage, signer, ca_key=None, issuer_key=None, clock=time.time,
                 window=None, verifier_processes=0, signer_processes=0):  # fmt: skip
        self.storage = storage
        self.signer = signer
        self.clock = clock
        self.backend = PycaBackend()
        self.ca_key = self._anchor("ca_key", ca_key)
        self.issuer_key = self._anchor("issuer_key", issuer_key)
        self._anchor("logger_key", signer.public_key)
        self.window = self._window(window)
        self._last_ltime = 0
        # Cards the vouchers table has named: a card once known stays known (vouchers are never
        # deleted), so a hit here spares a query, while a miss still asks the database.
        self._known = set()
        self.verifier = VerifierPool(self.ca_key, self.issuer_key, verifier_processes)
        # The sequencer's own signers: the append lock is held while they work, so they never
        # queue behind the verifiers' backlog.
        self.receipts = ReceiptSigner(signer, signer_processes)
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

    def close(self):
        """Stop the verifiers and signers (the sequencer is stopped by its owner)."""
        self.verifier.close()
        self.receipts.close()

    def ltime(self):
        """The logger's time, which it signs and cards live by: never goes back."""
        now = int(self.clock())
        if now > self._last_ltime:
            self._last_ltime = now
        return self._last_ltime

    # --- submission -------------------------------------------------------------------------

    async def submit(self, records):
        """Check and store records; one result per record, in order (dicts for the API).

        Parsing and signature checks run in the verifier pool (verifier.py), the checks against
        stored state in the sequencer's transaction.
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
                results[pos] = _refusal(SubmitError(*item))
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
        payers = list({item.payer_id for item in items})
        closed = {
            bytes(r[0])
            for r in _rows_in(tx, "SELECT card_id FROM recoveries WHERE card_id IN (%s)", payers)
        }
        # A revoked payer whose settlement window has passed: the logger takes no more of its
        # payments (while the window is open, logs of payments it made before are counted).
        expired = {
            bytes(r[0])
            for r in _rows_in(tx, "SELECT card_id, ltime FROM revoked_cards WHERE card_id IN (%s)",
                              payers)
            if ltime >= r[1] + self.window
        }  # fmt: skip
        unknown = self._unknown_cards(tx, {item.recipient_id for item in items})
        used = {
            (bytes(r[0]), r[1]): r[2]
            # A join with a VALUES list, which both databases answer from the unique index on
            # (payer_key, counter); SQLite scans the table for a row-value IN.
            for r in _rows_in(tx, "SELECT l.payer_key, l.counter, l.leaf_index FROM (VALUES %s)"
                              " AS w JOIN leaves AS l"
                              " ON l.payer_key = w.column1 AND l.counter = w.column2",
                              list({(item.payer_key, item.counter) for item in items}))
        }  # fmt: skip
        for pos, item in enumerate(items):
            refused = _card_refusal(item, expired, unknown)
            if refused is not None:
                results[pos] = _refusal(refused)
                continue
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
        return results

    def _store_leaves(self, tx, size, tree_size, fresh, results, ltime):
        def get(level, index):
            row = tx.one("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index))
            if row is None:
                raise KeyError((level, index))
            return bytes(row[0])

        leaf_hashes = [merkle.leaf_hash(item.data) for _, item in fresh]
        nodes = merkle.new_nodes(size, leaf_hashes, get)
        receipts = self.receipts.sign(
            [(item.record_hash, item.recipient_id, item.chall_id, size + k, tree_size, ltime)
             for k, (_, item) in enumerate(fresh)]
        )  # fmt: skip
        rows = []
        for k, (pos, item) in enumerate(fresh):
            index = size + k
            encoded = receipts[k]
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
            key = (item.payer_id, item.voucher[0])
            if key not in vouchers:  # Many records of a batch show one voucher.
                vouchers[key] = (item.payer_id, *item.voucher)
        tx.run_many(
            "INSERT INTO vouchers (card_id, sequence, issued, public_key, record)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (card_id, sequence) DO NOTHING",
            list(vouchers.values()),
        )

    def _unknown_cards(self, tx, card_ids):
        """Those of `card_ids` that no voucher names."""
        asked = [c for c in card_ids if c not in self._known]
        if not asked:
            return set()
        if len(self._known) > KNOWN_CARDS_LIMIT:
            self._known.clear()  # Bounded: forgetting only costs a query.
        found = {
            bytes(r[0])
            for r in _rows_in(tx, "SELECT DISTINCT card_id FROM vouchers WHERE card_id IN (%s)",
                              asked)
        }  # fmt: skip
        self._known |= found
        return set(asked) - found

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


def _card_refusal(item, expired, unknown):
    """Why the cards of `item` are refused, if they are: its payer revoked and past the
    settlement window, or its recipient unknown to the issuer feed."""
    if item.payer_id in expired:
        return SubmitError(
            403, "the payer card %s is revoked and its settlement window has passed"
            % item.payer_id.hex()
        )  # fmt: skip
    if item.recipient_id in unknown:
        return SubmitError(422, "unknown recipient card %s" % item.recipient_id.hex())
    return None


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


def _rows_in(tx, sql, values, chunk=400):
    """Rows of `sql`, whose "IN (%s)" takes `values`, queried `chunk` values at a time. Values
    that are tuples fill a "VALUES %s" list instead, with (?, ?) for each."""
    rows = []
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        # Padded with its last value to a power of two, so that each query has a few shapes
        # only: SQLite's statement cache and psycopg's prepared statements are keyed by the
        # text, which would otherwise differ with every batch size. A repeated value changes
        # no answer (callers build dicts or sets of the rows).
        part = part + part[-1:] * (min(chunk, 1 << (len(part) - 1).bit_length()) - len(part))
        if isinstance(part[0], tuple):
            marks = ", ".join("(%s)" % ", ".join("?" * len(v)) for v in part)
            params = tuple(x for v in part for x in v)
        else:
            marks = ", ".join("?" * len(part))
            params = tuple(part)
        rows += tx.all(sql % marks, params)
    return rows


def _evidence(tx, kind, item, conflicts_with, ltime):
    tx.run(
        "INSERT INTO evidence (kind, identity, payer_id, record, conflicts_with, ltime)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (kind, item.identity, item.payer_id, item.data, conflicts_with, ltime),
    )
