"""The appender's rules for one record of a batch: whether a stored leaf already credits it,
which key its leaf takes, whether its cards are refused, and the evidence it leaves against
its payer (docs/PROTOCOL.md section 7.3). The appender (appender.py) applies them in the
sequencer's transaction `tx`, whose named queries come from icpurse.logger.storage."""

from icpurse.logger.service.errors import SubmitError
from purse.records.log import LogRecord
from purse.records.logger import Receipt


def credit_key(tx, found, item, ltime):
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
    evidence(tx, "identity-conflict", item, -1, ltime)
    return item.identity + item.record_hash, None


def payer_evidence(tx, found, plan, item, ltime):
    """Evidence against the payer of a record that is credited anyway: revoked, or a clone."""
    if item.payer_id in found.late:
        # The recipient followed the rules: the payer's stamp was fresh at its L-time. It is
        # credited, and the evidence shows the issuer what the revoked card spent (which it
        # bears, docs/PROTOCOL.md section 7.3); the payment is never in doubt, and a revoked
        # payer is never refunded.
        evidence(tx, "revoked-payer", item, -1, ltime)
    pair = (item.payer_key, item.counter)
    clash = found.used.get(pair, plan.counters.get(pair))
    if clash is None and found.journalled.get(pair, {item.payment_key}) != {item.payment_key}:
        clash = -1
    if clash is not None:
        # Two payments signed with one counter prove a clone (or modified firmware with the
        # real key). The recipient could not tell offline and followed the rules: it is
        # credited like any other, and the overspend that follows falls on the payer's ledger,
        # which the evidence names (docs/PROTOCOL.md section 7.3).
        evidence(tx, "counter-reuse", item, clash, ltime)


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
    return accepted(receipt, leaf.leaf_index, Receipt.decode(receipt).tree_size)


def card_refusal(item, unknown, ltime, window):
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


def accepted(receipt, index, tree_size):
    return {
        "status": 200,
        "receipt": receipt.hex(),
        "leaf_index": int(index),
        "tree_size": int(tree_size),
    }


def evidence(tx, kind, item, conflicts_with, ltime):
    """Evidence against item's payer (conflicts_with: the leaf it conflicts with, or -1),
    stored once however often the record comes again, or its payment in the payer's journal
    (the storage names a piece by its kind, identity, leaf and the payer's signature S)."""
    signature = LogRecord.decode(item.data).payment.signature
    tx.add_evidence(
        kind, item.identity, item.payer_id, item.data, conflicts_with, signature, ltime
    )
