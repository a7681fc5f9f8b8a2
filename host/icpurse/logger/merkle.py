"""The logger's append-only Merkle tree: stored nodes, appends, roots and proofs (RFC 9162).

Every transfer log record is a leaf. Hashing is RFC 9162 section 2.1.1 (leaf = SHA-256(0x00 ||
data), node = SHA-256(0x01 || left || right), empty tree = SHA-256 of nothing).

Storage model. The logger stores the hashes of complete perfect subtrees only, addressed by
(level, index): level 0 holds the leaf hashes, and level k index i holds the hash of leaves
[i * 2^k, (i + 1) * 2^k). Such a node never changes once its last leaf exists, so the table is
append-only like the log itself, and `new_nodes` lists exactly the rows an append adds. Any
other range the RFC recursion needs lies on the tree's right edge and is hashed on demand from
at most log2(n) stored nodes.

A node source is any object with `get(level, index) -> bytes` that raises KeyError for a node
it does not hold; the functions here take the bound method `get`. They never ask for a node
that is not complete, so a KeyError always means missing or damaged storage.

Proofs are PATH (section 2.1.3.1) and PROOF (section 2.1.4.1), written as loops over the same
split on the largest power of two below the range size; each costs O(log^2 n) reads at worst.
Their verifiers live in `client.merkle_proofs`, re-exported here. A request for a proof the
RFC does not define (index >= size, old size 0 or above the new size) raises ProofError, the
same error a failed verification raises, so the service answers both as a client error.
ValueError is kept for the sequencer's own mistakes: a negative size or a leaf hash of the
wrong length.
"""

from icpurse.logger.client.merkle_proofs import (
    EMPTY_ROOT,
    HASH_SIZE,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryNodes",
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "new_nodes",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]


class MemoryNodes:
    """A dict-backed node source, for tests and for tools that rebuild a tree in memory."""

    def __init__(self):
        self._nodes = {}

    def put(self, level, index, value):
        self._nodes[(level, index)] = value

    def get(self, level, index):
        return self._nodes[(level, index)]

    def __len__(self):
        return len(self._nodes)


def new_nodes(size, leaf_hashes, get):
    """The (level, index, hash) nodes completed by appending `leaf_hashes` to `size` leaves.

    Level-0 entries are included, so writing the result stores the whole append. Existing
    nodes are read through `get`; each leaf costs O(log n) hashes at worst, O(1) on average.
    """
    if size < 0:
        raise ValueError("tree size %d is negative" % size)
    out = []
    # Nodes completed earlier in this batch are not in storage yet, so they are kept here.
    fresh = {}
    for index, value in enumerate(leaf_hashes, size):
        if len(value) != HASH_SIZE:
            raise ValueError("leaf hash %d is not %d bytes" % (index, HASH_SIZE))
        level = 0
        value = bytes(value)
        fresh[(0, index)] = value
        out.append((0, index, value))
        # An odd index is a right child: its arrival completes the parent, whose left sibling
        # is already complete because all of its leaves come before this one.
        while index & 1:
            key = (level, index - 1)
            left = fresh[key] if key in fresh else get(*key)
            value = node_hash(left, value)
            level += 1
            index >>= 1
            fresh[(level, index)] = value
            out.append((level, index, value))
    return out


def _split(count):
    """The largest power of two strictly below `count` (count >= 2): the RFC's k."""
    return 1 << ((count - 1).bit_length() - 1)


def _range_hash(lo, hi, get):
    """MTH of leaves [lo, hi), which must be a perfect subtree aligned on its size, or a range
    whose start is aligned on a power of two at least its length (a right-edge range).

    Every range the RFC recursion visits has one of these shapes, so the left half after a
    split is always a stored perfect subtree and only the right half recurses.
    """
    count = hi - lo
    if count & (count - 1) == 0:
        level = count.bit_length() - 1
        return get(level, lo >> level)
    k = _split(count)
    return node_hash(_range_hash(lo, lo + k, get), _range_hash(lo + k, hi, get))


def root(size, get):
    """The tree hash MTH(D[size]); EMPTY_ROOT for the empty tree."""
    if size < 0:
        raise ValueError("tree size %d is negative" % size)
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, get)


def inclusion_proof(index, size, get):
    """PATH(index, D[size]) of RFC 9162 section 2.1.3.1, nearest sibling first."""
    if index < 0 or index >= size:
        raise ProofError("leaf index %d is outside a tree of %d leaves" % (index, size))
    path = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_range_hash(lo + k, hi, get))
            hi = lo + k
        else:
            path.append(_range_hash(lo, lo + k, get))
            lo += k
    # The loop walks from the root down, but PATH lists the siblings from the leaf up.
    path.reverse()
    return path


def consistency_proof(old_size, new_size, get):
    """PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1; empty for equal sizes.

    An old size of 0 is refused with ProofError, as `verify_consistency` refuses it too.
    """
    if old_size <= 0 or old_size > new_size:
        raise ProofError("no consistency proof from %d to %d leaves" % (old_size, new_size))
    if old_size == new_size:
        return []
    proof = []
    lo, hi = 0, new_size
    # The RFC's flag b: true while the current range starts at leaf 0, when the old tree's
    # root is a node the verifier already holds and the proof need not carry it.
    whole = True
    while old_size != hi:
        k = _split(hi - lo)
        if old_size <= lo + k:
            proof.append(_range_hash(lo + k, hi, get))
            hi = lo + k
        else:
            proof.append(_range_hash(lo, lo + k, get))
            lo += k
            whole = False
    if not whole:
        proof.append(_range_hash(lo, hi, get))
    proof.reverse()
    return proof
