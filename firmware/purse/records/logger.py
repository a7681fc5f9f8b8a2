"""The logger's signed records: the receipt for a stored log record, and the ready-ticket of
the patent's embodiment 2. Both carry L-time, the logger-signed time cards live by."""

from purse import proto
from purse.errors import RecordError
from purse.records import fields as f
from purse.records.signed import Signed


class Receipt(Signed):
    """SkL(log id, H(record), IdUB, ChallID, leaf index, tree size, L-time): L has stored the
    record durably as leaf `leaf_index` of the Merkle tree of its log, of `tree_size` leaves."""

    TAG = proto.TAG_RECEIPT
    DOMAIN = proto.DOMAIN_RECEIPT
    LOGGED = True
    FIELDS = (
        (proto.TAG_RECORD_HASH, proto.HASH_SIZE, proto.HASH_SIZE, 0),
        (proto.TAG_CARD_ID, proto.CARD_ID_SIZE, proto.CARD_ID_SIZE, 0),
        (proto.TAG_CHALL_ID, proto.CHALL_ID_SIZE, proto.CHALL_ID_SIZE, 0),
        (proto.TAG_LEAF_INDEX, proto.U64_SIZE, proto.U64_SIZE, 0),
        (proto.TAG_TREE_SIZE, proto.U64_SIZE, proto.U64_SIZE, 0),
        (proto.TAG_LTIME, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(
        self,
        record_hash=None,
        recipient_id=None,
        chall_id=None,
        leaf_index=0,
        tree_size=0,
        ltime=0,
        log_id=None,
    ):
        Signed.__init__(self)
        self._log_id = log_id
        self.record_hash = record_hash
        self.recipient_id = recipient_id
        self.chall_id = chall_id
        self.leaf_index = leaf_index
        self.tree_size = tree_size
        self.ltime = ltime

    def items(self):
        return [
            (proto.TAG_RECORD_HASH, self.record_hash),
            (proto.TAG_CARD_ID, self.recipient_id),
            (proto.TAG_CHALL_ID, self.chall_id),
            (proto.TAG_LEAF_INDEX, f.u64(self.leaf_index)),
            (proto.TAG_TREE_SIZE, f.u64(self.tree_size)),
            (proto.TAG_LTIME, f.u32(self.ltime)),
        ]

    def load(self, fields, outer):
        self.record_hash = bytes(fields[proto.TAG_RECORD_HASH])
        self.recipient_id = bytes(fields[proto.TAG_CARD_ID])
        self.chall_id = bytes(fields[proto.TAG_CHALL_ID])
        self.leaf_index = f.uint(fields[proto.TAG_LEAF_INDEX])
        self.tree_size = f.uint(fields[proto.TAG_TREE_SIZE])
        self.ltime = f.uint(fields[proto.TAG_LTIME])
        if self.leaf_index >= self.tree_size:
            raise RecordError("Receipt: leaf index outside the tree")

    def matches(self, log_record):
        """True if this receipt is for exactly `log_record` (its hash, IdUB and ChallID)."""
        return self.record_hash == log_record.hash() and self.names(log_record)

    def names(self, log_record):
        """True if this receipt credits `log_record`'s challenge (IdUB and ChallID). L answers
        a record with the receipt of another it stored for the same challenge only when both
        credit the same amount (a payer signed that challenge twice, docs/PROTOCOL.md 7.1)."""
        return (
            self.recipient_id == log_record.recipient_id
            and self.chall_id == log_record.payment.chall_id
        )


class Ticket(Signed):
    """SkL(log id, nonce, L-time): "I can accept a log now", bound to the card's fresh nonce."""

    TAG = proto.TAG_TICKET
    DOMAIN = proto.DOMAIN_TICKET
    LOGGED = True
    FIELDS = (
        (proto.TAG_NONCE, proto.RANDOM_SIZE, proto.RANDOM_SIZE, 0),
        (proto.TAG_LTIME, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(self, nonce=None, ltime=0, log_id=None):
        Signed.__init__(self)
        self._log_id = log_id
        self.nonce = nonce
        self.ltime = ltime

    def items(self):
        return [(proto.TAG_NONCE, self.nonce), (proto.TAG_LTIME, f.u32(self.ltime))]

    def load(self, fields, outer):
        self.nonce = bytes(fields[proto.TAG_NONCE])
        self.ltime = f.uint(fields[proto.TAG_LTIME])
