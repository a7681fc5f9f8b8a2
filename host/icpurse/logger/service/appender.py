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
from icpurse.logger.service.errors import SubmitError, refusal
from icpurse.logger.signing import ReceiptSigner
from icpurse.logger.storage import open_storage
from icpurse.logger.storage.rows import NewLeaf
from icpurse.logger.verifier import Prepared
from icpurse.logger.workers import Workers
from purse.records.logger import Receipt

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
        refused = _card_refusal(item, found.unknown, ltime, self.window)
        if refused is not None:
            plan.results[pos] = refusal(refused)
            return
        key, stored = _credit_key(tx, found, item, ltime)
        if stored is not None:
            plan.results[pos] = stored
            return
        plan.keys[pos] = key
        if key in plan.first:
            return  # Resolved after the batch: the same result, or a conflict.
        if item.payment_key in found.settled:
            # Refunded to its payer (or reverted by a recovery) after the window: kept as
            # evidence, never credited.
            _evidence(tx, "settled-late", item, -1, ltime)
            plan.results[pos] = refusal(
                SubmitError(409, "this payment was %s to its payer after the settlement "
                            "window; the record is kept as evidence"
                            % found.settled[item.payment_key])
            )  # fmt: skip
            return
        _payer_evidence(tx, found, plan, item, ltime)
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
            plan.results[pos] = _accepted(receipts[k], index, tree_size)
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
        _evidence(tx, "identity-conflict", item, index, ltime)
        return refusal(
            SubmitError(409, "another record for this payment is already stored", index)
        )


def _credit_key(tx, found, item, ltime):
    """(key, None): the key item's leaf is stored under; or (None, result) when a stored leaf
    already credits what item would."""
    stored = found.stored.get(item.identity)
    if stored is None:
        return item.identity, None
    if _same_credit(stored, item):
        return None, _stored(stored)
    # Another record of this challenge, also signed by its recipient card, with another
    # amount: only modified firmware on both sides makes one (an honest payer signs the
    # challenge's amount, an honest recipient signs one record per challenge). An amount not
    # credited yet is credited as a leaf of its own, under the identity and its H(record), and
    # the evidence bars the payer (docs/PROTOCOL.md section 7.3).
    same = _same_amount(tx, item)
    if same is not None:
        return None, _stored(same)
    _evidence_once(tx, "identity-conflict", item, ltime)
    return item.identity + item.record_hash, None


def _payer_evidence(tx, found, plan, item, ltime):
    """Evidence against the payer of a record that is credited anyway: revoked, or a clone."""
    if item.payer_id in found.late:
        # The recipient followed the rules: the payer's stamp was fresh at its L-time. It is
        # credited, and the evidence shows the issuer what the revoked card spent (which it
        # bears, docs/PROTOCOL.md section 7.3); the payment is never in doubt, and a revoked
        # payer is never refunded.
        _evidence_once(tx, "revoked-payer", item, ltime)
    pair = (item.payer_key, item.counter)
    clash = found.used.get(pair, plan.counters.get(pair))
    if clash is None and found.journalled.get(pair, {item.payment_key}) != {item.payment_key}:
        clash = -1
    if clash is not None:
        # Two payments signed with one counter prove a clone (or modified firmware with the
        # real key). The recipient could not tell offline and followed the rules: it is
        # credited like any other, and the overspend that follows falls on the payer's ledger,
        # which the evidence names (docs/PROTOCOL.md section 7.3).
        _evidence(tx, "counter-reuse", item, clash, ltime)


def _same_credit(leaf, item):
    """Whether the StoredLeaf `leaf` credits what `item` would: the same record (re-encoded,
    or sent again), or the same amount for the same challenge. Either way the recipient gets
    the stored receipt, which names its IdUB and ChallID, and a payment of the challenge that
    no leaf holds is refunded to its payer."""
    return bytes(leaf.record_hash) == item.record_hash or int(leaf.amount) == item.amount


def _same_amount(tx, item):
    """A leaf of `item`'s challenge stored under an extended key (identity || H(record)) that
    credits what `item` would, if there is one."""
    leaves = tx.extended_leaves(item.identity, len(item.record_hash))
    return next((leaf for leaf in leaves if _same_credit(leaf, item)), None)


def _stored(leaf):
    receipt = bytes(leaf.receipt)
    return _accepted(receipt, leaf.leaf_index, Receipt.decode(receipt).tree_size)


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


def _evidence_once(tx, kind, item, ltime):
    """Evidence that names no other leaf, stored once per payment however often its recipient
    submits the record again."""
    if tx.has_evidence(kind, item.identity):
        return
    _evidence(tx, kind, item, -1, ltime)


def _evidence(tx, kind, item, conflicts_with, ltime):
    tx.add_evidence(kind, item.identity, item.payer_id, item.data, conflicts_with, ltime)


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
