"""The logger's signed checkpoint of its Merkle tree. Host and logger code only: apart from
purse.records.logger so that cards do not load it."""

from purse import proto
from purse.records import fields as f
from purse.records.signed import Signed


class Checkpoint(Signed):
    """SkL(tree size, root, L-time): the logger commits to the whole log at a size, so any two
    checkpoints can be proven consistent (RFC 9162 section 2.1.4)."""

    TAG = proto.TAG_CHECKPOINT
    DOMAIN = proto.DOMAIN_CHECKPOINT
    FIELDS = (
        (proto.TAG_TREE_SIZE, proto.U64_SIZE, proto.U64_SIZE, 0),
        (proto.TAG_ROOT, proto.HASH_SIZE, proto.HASH_SIZE, 0),
        (proto.TAG_LTIME, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(self, tree_size=0, root=None, ltime=0):
        Signed.__init__(self)
        self.tree_size = tree_size
        self.root = root
        self.ltime = ltime

    def items(self):
        return [
            (proto.TAG_TREE_SIZE, f.u64(self.tree_size)),
            (proto.TAG_ROOT, self.root),
            (proto.TAG_LTIME, f.u32(self.ltime)),
        ]

    def load(self, fields, outer):
        self.tree_size = f.uint(fields[proto.TAG_TREE_SIZE])
        self.root = bytes(fields[proto.TAG_ROOT])
        self.ltime = f.uint(fields[proto.TAG_LTIME])
