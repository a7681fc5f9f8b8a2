"""The sequencer's work: append a batch of checked records to the log in one transaction.

Inside the transaction that appends the batch, each record is checked against what is stored —
payer certificate not valid, recipient unknown, challenge already credited, payment already
refunded, payer revoked, payer counter already used — with one query per kind for the whole
batch, so nothing can change between check and append; the receipt signers (signing.py) sign
the receipts while the append lock is held.

`Appender` does this on the calling thread. `AppenderProcess` runs an Appender in a process of
its own, whose answer the sequencer awaits on the event loop. In the service's process, the
appender's Python work (binding parameters, hashing the tree, building rows) held the
interpreter against the event loop: measured with single-record submissions, the service
process spent about 150 µs of CPU a record on the sequencer's thread, and each of the loop and
the sequencer waited for the other at every hand-over of the interpreter.
"""

import multiprocessing

from icpurse.logger import merkle
from icpurse.logger.service.ledger import SubmitError
from icpurse.logger.signing import ReceiptSigner
from icpurse.logger.storage import open_storage
from icpurse.logger.verifier import Prepared
from icpurse.logger.workers import Workers
from purse.records.logger import Receipt

# The appender process's name in ps and top (workers.name_process).
PROCESS_NAME = "icpurse-append"
# Card ids remembered as known to the vouchers table before the set is dropped.
KNOWN_CARDS_LIMIT = 1000000


class Appender:
    """Appends checked records to the log of `storage`, signing receipts with `signer`."""

    def __init__(self, storage, signer, window, signer_processes=0):
        self.storage = storage
        self.window = window
        # Cards the vouchers table has named: a card once known stays known (vouchers are never
        # deleted), so a hit here spares a query, while a miss still asks the database.
        self._known = set()
        # The sequencer's own signers: the append lock is held while they work, so they never
        # queue behind the verifiers' backlog.
        self.receipts = ReceiptSigner(signer, signer_processes)

    def start(self):
        """Start the receipt signers now, so that the first batch does not wait for them."""
        self.receipts.start()

    def close(self):
        self.receipts.close()

    def commit_plain(self, request):
        """`commit` of (L-time, [(record, Prepared fields)]), as AppenderProcess sends it."""
        ltime, items = request
        return self.commit([Prepared(data, fields) for data, fields in items], ltime)

    def commit(self, items, ltime):
        """Append checked records (Prepared) in one durable transaction at L-time `ltime` (the
        service's clock, which also times its tickets); one result per item, in order (dicts
        for the API). Blocking: the sequencer's thread calls it."""
        return self.storage.append(lambda tx: self._append(tx, items, ltime))

    def _append(self, tx, items, ltime):
        size = tx.one("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM leaves")[0]
        results = [None] * len(items)
        fresh = []
        first = {}
        keys = [None] * len(items)
        counters = {}
        # What the batch needs from the database, in one query per kind rather than one per
        # record: each query is a round trip to a PostgreSQL server.
        identities = [item.identity for item in items]
        stored = {
            bytes(r[0]): r[1:]
            for r in _rows_in(tx, "SELECT identity, leaf_index, record_hash, receipt, amount"
                              " FROM leaves WHERE identity IN (%s)", identities)
        }  # fmt: skip
        settled = {
            bytes(r[0]): r[1]
            for r in _rows_in(tx, "SELECT payment_key, kind FROM settlements"
                              " WHERE payment_key IN (%s)", [i.payment_key for i in items])
        }  # fmt: skip
        payers = list({item.payer_id for item in items})
        # Revoked payers whose settlement window has passed: a record of theirs that comes now
        # is of a payment they made after their revocation, or one their recipient logged late.
        late = {
            bytes(r[0])
            for r in _rows_in(tx, "SELECT card_id, ltime FROM revoked_cards WHERE card_id IN (%s)",
                              payers)
            if ltime >= r[1] + self.window
        }  # fmt: skip
        unknown = self._unknown_cards(tx, {item.recipient_id for item in items})
        pairs = list({(item.payer_key, item.counter) for item in items})
        used = {
            (bytes(r[0]), r[1]): r[2]
            # A join with a VALUES list, which both databases answer from the index on
            # (payer_key, counter); SQLite scans the table for a row-value IN. A counter used
            # twice (a clone) names its first leaf.
            for r in _rows_in(tx, "SELECT l.payer_key, l.counter, MIN(l.leaf_index)"
                              " FROM (VALUES %s)"
                              " AS w JOIN leaves AS l"
                              " ON l.payer_key = w.column1 AND l.counter = w.column2"
                              " GROUP BY l.payer_key, l.counter",
                              pairs)
        }  # fmt: skip
        # Journalled payments with those counters: a clone's payment may reach the logger in
        # its payer's journal before (or instead of) a log record.
        journalled = {}
        for r in _rows_in(
            tx,
            "SELECT p.payer_key, p.counter, p.payment_key FROM (VALUES %s)"
            " AS w JOIN payments AS p"
            " ON p.payer_key = w.column1 AND p.counter = w.column2",
            pairs,
        ):
            journalled.setdefault((bytes(r[0]), r[1]), set()).add(bytes(r[2]))  # fmt: skip
        for pos, item in enumerate(items):
            refused = _card_refusal(item, unknown, ltime, self.window)
            if refused is not None:
                results[pos] = refusal(refused)
                continue
            key = item.identity
            row = stored.get(key)
            if row is not None:
                if _same_credit(row, item):
                    results[pos] = _stored(row)
                    continue
                # Another record of this challenge, also signed by its recipient card, with
                # another amount: only modified firmware on both sides makes one (an honest
                # payer signs the challenge's amount, an honest recipient signs one record per
                # challenge). An amount not credited yet is credited as a leaf of its own,
                # under the identity and its H(record), and the evidence bars the payer
                # (docs/PROTOCOL.md section 7.3).
                same = _same_amount(tx, item)
                if same is not None:
                    results[pos] = _stored(same)
                    continue
                key = item.identity + item.record_hash
                _evidence_once(tx, "identity-conflict", item, ltime)
            keys[pos] = key
            if key in first:
                continue  # Resolved after the batch: the same result, or a conflict.
            if item.payment_key in settled:
                # Refunded to its payer (or reverted by a recovery) after the window: kept as
                # evidence, never credited.
                _evidence(tx, "settled-late", item, -1, ltime)
                results[pos] = refusal(
                    SubmitError(409, "this payment was %s to its payer after the settlement "
                                "window; the record is kept as evidence"
                                % settled[item.payment_key])
                )  # fmt: skip
                continue
            if item.payer_id in late:
                # The recipient followed the rules: the payer's stamp was fresh at its L-time.
                # It is credited, and the evidence shows the issuer what the revoked card spent
                # (which it bears, docs/PROTOCOL.md section 7.3); the payment is never in doubt,
                # and a revoked payer is never refunded.
                _evidence_once(tx, "revoked-payer", item, ltime)
            pair = (item.payer_key, item.counter)
            clash = used.get(pair, counters.get(pair))
            if clash is None and journalled.get(pair, {item.payment_key}) != {item.payment_key}:
                clash = -1
            if clash is not None:
                # Two payments signed with one counter prove a clone (or modified firmware with
                # the real key). The recipient could not tell offline and followed the rules:
                # it is credited like any other, and the overspend that follows falls on the
                # payer's ledger, which the evidence names (docs/PROTOCOL.md section 7.3).
                _evidence(tx, "counter-reuse", item, clash, ltime)
            first[key] = pos
            counters.setdefault(pair, size + len(fresh))
            fresh.append((pos, item, key))
        tree_size = size + len(fresh)
        if fresh:
            self._store_leaves(tx, size, tree_size, fresh, results, ltime)
        for pos, item in enumerate(items):
            if results[pos] is None:
                original = items[first[keys[pos]]]
                if original.record_hash == item.record_hash or original.amount == item.amount:
                    results[pos] = results[first[keys[pos]]]
                else:
                    index = results[first[keys[pos]]]["leaf_index"]
                    results[pos] = self._conflict(tx, item, index, ltime)
        return results

    def _store_leaves(self, tx, size, tree_size, fresh, results, ltime):
        def get(level, index):
            row = tx.one("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index))
            if row is None:
                raise KeyError((level, index))
            return bytes(row[0])

        leaf_hashes = [merkle.leaf_hash(item.data) for _, item, _ in fresh]
        nodes = merkle.new_nodes(size, leaf_hashes, get)
        receipts = self.receipts.sign(
            [(item.record_hash, item.recipient_id, item.chall_id, size + k, tree_size, ltime)
             for k, (_, item, _) in enumerate(fresh)]
        )  # fmt: skip
        rows = []
        for k, (pos, item, key) in enumerate(fresh):
            index = size + k
            encoded = receipts[k]
            rows.append(
                (index, key, item.data, item.record_hash, item.payer_key,
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
        for _, item, _ in fresh:
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

    def _conflict(self, tx, item, index, ltime):
        _evidence(tx, "identity-conflict", item, index, ltime)
        return refusal(
            SubmitError(409, "another record for this payment is already stored", index)
        )


def _same_credit(row, item):
    """Whether the stored leaf `row` (leaf_index, record_hash, receipt, amount) credits what
    `item` would: the same record (re-encoded, or sent again), or the same amount for the same
    challenge. Either way the recipient gets the stored receipt, which names its IdUB and
    ChallID, and a payment of the challenge that no leaf holds is refunded to its payer."""
    return bytes(row[1]) == item.record_hash or int(row[3]) == item.amount


def _same_amount(tx, item):
    """A leaf of `item`'s challenge stored under an extended key (identity || H(record)) that
    credits what `item` would, if there is one. The extended keys of an identity sort right
    after it, so the unique index on the key answers this range."""
    rows = tx.all(
        "SELECT leaf_index, record_hash, receipt, amount FROM leaves"
        " WHERE identity > ? AND identity <= ?",
        (item.identity, item.identity + b"\xff" * len(item.record_hash)),
    )
    return next((row for row in rows if _same_credit(row, item)), None)


def _stored(row):
    index, _, receipt, _ = row
    return _accepted(bytes(receipt), index, Receipt.decode(bytes(receipt)).tree_size)


def _card_refusal(item, unknown, ltime, window):
    """Why the cards of `item` are refused, if they are: its payer's certificate not valid (a
    record may come up to a window after the certificate ended: its recipient accepted it while
    it was valid), or its recipient unknown to the issuer feed."""
    if ltime < item.not_before or ltime > item.not_after + window:
        return SubmitError(
            403, "the payer card %s's certificate is not valid at L-time %d"
            % (item.payer_id.hex(), ltime)
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


def refusal(exc):
    """A refused record's result (a SubmitError as a dict for the API)."""
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


def _evidence_once(tx, kind, item, ltime):
    """Evidence that names no other leaf, stored once per payment however often its recipient
    submits the record again."""
    if tx.one("SELECT 1 FROM evidence WHERE kind = ? AND identity = ?", (kind, item.identity)):
        return
    _evidence(tx, kind, item, -1, ltime)


def _evidence(tx, kind, item, conflicts_with, ltime):
    tx.run(
        "INSERT INTO evidence (kind, identity, payer_id, record, conflicts_with, ltime)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (kind, item.identity, item.payer_id, item.data, conflicts_with, ltime),
    )


def _setup_process(url, signer, window, signer_processes):
    # A daemonic process may not start processes of its own, and this one starts the receipt
    # signers. The service still stops it (AppenderProcess.close), and it leaves on its own
    # when the service is gone (workers.watch_parent), and so do its signers after it.
    multiprocessing.current_process().daemon = False
    appender = Appender(open_storage(url), signer, window, signer_processes=signer_processes)
    appender.start()
    return appender.commit_plain


class AppenderProcess:
    """An Appender in a process of its own, with its own connection to the database at `url`;
    `await commit(items, ltime)` answers, on the event loop, when the batch is durable.

    If the process dies, the batch it held fails (its transaction is rolled back, or, if the
    commit was already durable, a retry of each record gets the same receipt), and a new process
    takes its place for the next batch.
    """

    def __init__(self, url, signer, window, signer_processes=0):
        self._workers = Workers(
            1, _setup_process, (url, signer, window, signer_processes), PROCESS_NAME
        )

    def start(self):
        self._workers.start()

    async def commit(self, items, ltime):
        return await self._workers.submit((ltime, [(p.data, p.fields) for p in items]))

    def pids(self):
        return self._workers.pids()

    def close(self):
        self._workers.close()
