"""The audit of the log itself: every leaf parsed again from its record bytes and its receipt
checked with PkL; the Merkle tree rebuilt from the records, which every signed checkpoint must
match, each consistent with the one before."""

from typing import NamedTuple

from icpurse.logger import merkle
from icpurse.logger.client.answers import LoggerError
from icpurse.logger.merkle import MemoryNodes, ProofError
from purse.errors import CryptoError, RecordError
from purse.records import fields as f
from purse.records.checkpoint import Checkpoint
from purse.records.log import LogRecord
from purse.records.logger import Receipt


class ParsedLeaf(NamedTuple):
    """What the audit takes from a leaf's record, not from the logger's columns."""

    payment_key: bytes
    payer_id: bytes
    recipient_id: bytes
    amount: int
    leaf_hash: bytes


def check_leaves(report, leaves, backend, logger_key):
    """Parse every leaf again; returns its ParsedLeaf list, up to the first hole."""
    parsed = []
    seen = {}
    for expected, row in enumerate(leaves):
        index = row["leaf_index"]
        if index != expected:
            report.flag("leaf %d is missing: the log has a hole (a deleted record)" % expected)
            break
        leaf = _check_leaf(report, row, seen, backend, logger_key)
        if leaf is not None:
            parsed.append(leaf)
    return parsed


def _check_leaf(report, row, seen, backend, logger_key):
    """A leaf's ParsedLeaf (None if its record or receipt does not parse or verify), flagging
    a receipt for another record, a double credit and columns the record contradicts."""
    index = row["leaf_index"]
    data = bytes.fromhex(row["record"])
    try:
        record = LogRecord.decode(data)
        receipt = Receipt.decode(bytes.fromhex(row["receipt"]))
        receipt.verify(backend, logger_key)
    except (RecordError, CryptoError) as exc:
        report.flag("leaf %d: %s" % (index, exc))
        return None
    if not receipt.matches(record) or receipt.leaf_index != index:
        report.flag("leaf %d: its receipt is for another record or index" % index)
    payment = record.payment
    identity = payment.certificate.public_key + payment.chall_id + payment.g1
    # One credit per challenge and amount: the logger credits a challenge twice only when
    # its payer signed two amounts for it (docs/PROTOCOL.md section 7.3).
    if (identity, payment.x) in seen:
        report.flag(
            "leaves %d and %d credit the same payment: a double credit"
            % (seen[(identity, payment.x)], index)
        )
    seen[(identity, payment.x)] = index
    payer = payment.certificate.card_id
    if (
        row["amount"] != payment.x
        or bytes.fromhex(row["payer_id"]) != payer
        or bytes.fromhex(row["recipient_id"]) != record.recipient_id
    ):
        report.flag(
            "leaf %d: the logger counts %d from %s to %s, the record says %d from %s to %s"
            % (index, row["amount"], row["payer_id"], row["recipient_id"], payment.x,
               payer.hex(), record.recipient_id.hex())
        )  # fmt: skip
    return ParsedLeaf(
        identity + f.u32(payment.counter), payer, record.recipient_id, payment.x,
        merkle.leaf_hash(data),
    )  # fmt: skip


def check_tree(report, client, parsed, checkpoints, backend, logger_key):
    """Every signed checkpoint against the tree rebuilt from `parsed`, and each consistent
    with the one before (a proof fetched from the logger, verified here)."""
    nodes = MemoryNodes()
    for level, index, value in merkle.new_nodes(0, [p.leaf_hash for p in parsed], nodes.get):
        nodes.put(level, index, value)
    size = len(parsed)
    previous = None
    for row in checkpoints:
        try:
            cp = Checkpoint.decode(bytes.fromhex(row["checkpoint"]))
            cp.verify(backend, logger_key)
        except (RecordError, CryptoError) as exc:
            report.flag("checkpoint at size %d: %s" % (row["tree_size"], exc))
            continue
        if previous is not None and cp.log_id != previous.log_id:
            # One log has one id: a checkpoint of another log (one that shares the key) in
            # this log's list was put there.
            report.flag(
                "checkpoint at size %d names log %s, not %s: it is another log's"
                % (cp.tree_size, cp.log_id.hex(), previous.log_id.hex())
            )
            continue
        _check_root(report, cp, size, nodes)
        # Every tree extends the empty one, whose root _check_root has just compared with
        # EMPTY_ROOT: RFC 9162 has no consistency proof from size 0, and none is needed.
        if previous is not None and 0 < previous.tree_size <= cp.tree_size:
            _check_consistent(report, client, previous, cp)
        previous = cp
    report.figures["checkpoints"] = len(checkpoints)
    report.figures["records"] = size


def _check_root(report, cp, size, nodes):
    if cp.tree_size > size:
        report.flag(
            "checkpoint at size %d is beyond the %d records the log holds: records were"
            " removed" % (cp.tree_size, size)
        )
    elif merkle.root(cp.tree_size, nodes.get) != cp.root:
        report.flag(
            "checkpoint at size %d does not match the records: the log was altered" % cp.tree_size
        )


def _check_consistent(report, client, previous, cp):
    try:
        client.verify_consistent(previous, cp)
    except (ProofError, LoggerError) as exc:
        report.flag(
            "checkpoints at sizes %d and %d are not consistent: %s"
            % (previous.tree_size, cp.tree_size, exc)
        )
