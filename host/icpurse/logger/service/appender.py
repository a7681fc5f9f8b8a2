"""The sequencer's work: append a batch of checked records to the log in one transaction.

Inside the transaction that appends the batch, each record is checked against what is stored —
payer certificate not valid, recipient unknown, challenge already credited, payment already
refunded, payer revoked, payer counter already used — with one query per kind for the whole
batch, so nothing can change between check and append; the receipt signers
(icpurse.logger.signing) sign the receipts while the append lock is held.

`Appender` does this on the calling thread. `AppenderProcess` runs an Appender in a process of
its own, whose answer the sequencer awaits on the event loop. In the service's process, the
appender's Python work (binding parameters, hashing the tree, building rows) held the
interpreter against the event loop: measured with single-record submissions, the service
process spent about 150 µs of CPU a record on the sequencer's thread, and each of the loop and
the sequencer waited for the other at every hand-over of the interpreter.
"""

import multiprocessing

from icpurse.logger import merkle
from icpurse.logger.service.credits import (
    accepted,
    card_refusal,
    credit_key,
    evidence,
    payer_evidence,
)
from icpurse.logger.service.errors import SubmitError, refusal
from icpurse.logger.signing import ReceiptSigner
from icpurse.logger.storage import open_storage
from icpurse.logger.storage.rows import NewLeaf
from icpurse.logger.verifier import Prepared
from icpurse.logger.workers import Workers

# The appender process's name in ps and top (workers.name_process).
PROCESS_NAME = "icpurse-append"
# Card ids remembered as known to the vouchers table before the set is dropped.
KNOWN_CARDS_LIMIT = 1000000


class _Lookups:
    """What a batch needs from the database, in one query per kind rather than one per record
    (storage.batch): each query is a round trip to a PostgreSQL server."""

    def __init__(self, tx, items, ltime, window, unknown_cards):
        self.stored = tx.stored_leaves([item.identity for item in items])
        self.settled = tx.settled_kinds([item.payment_key for item in items])
        # Revoked payers whose settlement window has passed: a record of theirs that comes now
        # is of a payment they made after their revocation, or one their recipient logged late.
        revoked = tx.revocation_times(list({item.payer_id for item in items}))
        self.late = {card_id for card_id, since in revoked.items() if ltime >= since + window}
        self.unknown = unknown_cards(tx, {item.recipient_id for item in items})
        pairs = list({(item.payer_key, item.counter) for item in items})
        # The first leaf of each (payer key, counter); journalled payments with those
        # counters: a clone's payment may reach the logger in its payer's journal before (or
        # instead of) a log record.
        self.used = tx.first_leaves(pairs)
        self.journalled = tx.journalled_keys(pairs)


class _Plan:
    """The batch's results as they are decided: `fresh` lists the (position, item, key) that
    become new leaves, from index `size` on; `first` the position of the first item of each
    key, which later items of that key follow."""

    def __init__(self, size, count):
        self.size = size
        self.results = [None] * count
        self.keys = [None] * count
        self.first = {}
        self.counters = {}
        self.fresh = []

    def add_leaf(self, pos, item, key):
        self.first[key] = pos
        self.counters.setdefault((item.payer_key, item.counter), self.size + len(self.fresh))
        self.fresh.append((pos, item, key))


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
        self.receipts = ReceiptSigner(signer, storage.log_id(signer.public_key), signer_processes)

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
        plan = _Plan(tx.tree_size(), len(items))
        found = _Lookups(tx, items, ltime, self.window, self._unknown_cards)
        for pos, item in enumerate(items):
            self._place(tx, found, plan, pos, item, ltime)
        if plan.fresh:
            self._store_leaves(tx, plan, ltime)
        self._follow_first(tx, items, plan, ltime)
        return plan.results

    def _place(self, tx, found, plan, pos, item, ltime):
        """Decide item's result, or plan it as a new leaf."""
        refused = card_refusal(item, found.unknown, ltime, self.window)
        if refused is not None:
            plan.results[pos] = refusal(refused)
            return
        key, stored = credit_key(tx, found, item, ltime)
        if stored is not None:
            plan.results[pos] = stored
            return
        plan.keys[pos] = key
        if key in plan.first:
            return  # Resolved after the batch: the same result, or a conflict.
        if item.payment_key in found.settled:
            # Refunded to its payer (or reverted by a recovery) after the window: kept as
            # evidence, never credited.
            evidence(tx, "settled-late", item, -1, ltime)
            plan.results[pos] = refusal(
                SubmitError(409, "this payment was %s to its payer after the settlement "
                            "window; the record is kept as evidence"
                            % found.settled[item.payment_key])
            )  # fmt: skip
            return
        payer_evidence(tx, found, plan, item, ltime)
        plan.add_leaf(pos, item, key)

    def _follow_first(self, tx, items, plan, ltime):
        """Items whose key an earlier item of the batch took: its result if they credit the
        same, else a conflict."""
        for pos, item in enumerate(items):
            if plan.results[pos] is None:
                first = plan.first[plan.keys[pos]]
                original = items[first]
                if original.record_hash == item.record_hash or original.amount == item.amount:
                    plan.results[pos] = plan.results[first]
                else:
                    index = plan.results[first]["leaf_index"]
                    plan.results[pos] = self._conflict(tx, item, index, ltime)

    def _store_leaves(self, tx, plan, ltime):
        size, fresh = plan.size, plan.fresh
        tree_size = size + len(fresh)
        leaf_hashes = [merkle.leaf_hash(item.data) for _, item, _ in fresh]
        nodes = merkle.new_nodes(size, leaf_hashes, tx.node_getter())
        receipts = self.receipts.sign(
            [(item.record_hash, item.recipient_id, item.chall_id, size + k, tree_size, ltime)
             for k, (_, item, _) in enumerate(fresh)]
        )  # fmt: skip
        leaves = []
        for k, (pos, item, key) in enumerate(fresh):
            index = size + k
            leaves.append(
                NewLeaf(index, key, item.data, item.record_hash, item.payer_key, item.payer_id,
                        item.counter, item.recipient_id, item.amount, ltime, receipts[k])
            )  # fmt: skip
            plan.results[pos] = accepted(receipts[k], index, tree_size)
        tx.add_leaves(leaves)
        tx.add_nodes(nodes)
        vouchers = {}
        for _, item, _ in fresh:
            sequence, issued, public_key, record = item.voucher
            if (item.payer_id, sequence) not in vouchers:  # Many records of a batch show one.
                vouchers[(item.payer_id, sequence)] = (
                    item.payer_id,
                    sequence,
                    issued,
                    public_key,
                    record,
                )
        tx.add_seen_vouchers(list(vouchers.values()))

    def _unknown_cards(self, tx, card_ids):
        """Those of `card_ids` that no voucher names."""
        asked = [c for c in card_ids if c not in self._known]
        if not asked:
            return set()
        if len(self._known) > KNOWN_CARDS_LIMIT:
            self._known.clear()  # Bounded: forgetting only costs a query.
        found = tx.cards_with_vouchers(asked)
        self._known |= found
        return set(asked) - found

    def _conflict(self, tx, item, index, ltime):
        evidence(tx, "identity-conflict", item, index, ltime)
        return refusal(
            SubmitError(
                409,
                "another record for this payment is already stored",
                index,
                evidence="identity-conflict",
            )
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
