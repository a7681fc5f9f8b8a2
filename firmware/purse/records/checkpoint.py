"""The logger's signed checkpoint of its Merkle tree. Host and logger code only: apart from
purse.records.logger so that cards do not load it."""

from purse import proto
from purse.records import fields as f
from purse.records.signed import Signed

# The prefix of the log id's hash. Declared here, not in purse.proto, because only hosts derive
# a log id: each name in purse.proto costs every card a slot in that module's dict.
HASH_LOG_ID = b"icpurse/log-id"


def log_id(public_key, genesis):
    """The log's identity: the first LOG_ID_SIZE bytes of SHA-256("icpurse/log-id" || PkL ||
    genesis), genesis being the random value L's database was made with. Not PkL alone: two
    logs may share a key (a second logger set up from the same key file), and cards, issuer
    and loggers must tell them apart (docs/PROTOCOL.md section 7.7)."""
    return f.sha256(HASH_LOG_ID, bytes(public_key), bytes(genesis))[: proto.LOG_ID_SIZE]


class Checkpoint(Signed):
    """SkL(log id, tree size, root, L-time): the logger commits to its whole log at a size, so
    any two checkpoints of one log can be proven consistent (RFC 9162 section 2.1.4)."""

    TAG = proto.TAG_CHECKPOINT
    DOMAIN = proto.DOMAIN_CHECKPOINT
    LOGGED = True
    FIELDS = (
        (proto.TAG_TREE_SIZE, proto.U64_SIZE, proto.U64_SIZE, 0),
        (proto.TAG_ROOT, proto.HASH_SIZE, proto.HASH_SIZE, 0),
        (proto.TAG_LTIME, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(self, tree_size=0, root=None, ltime=0, log_id=None):
        Signed.__init__(self)
        self._log_id = log_id
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
