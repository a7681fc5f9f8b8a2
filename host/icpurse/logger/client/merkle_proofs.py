"""RFC 9162 Merkle tree hashing and proof verification, with no storage behind it.

A client of the logger needs only this module: it checks an inclusion proof against a signed
checkpoint's root (RFC 9162 section 2.1.3.2) and a consistency proof between two checkpoints
(section 2.1.4.2). The algorithms below follow the RFC's iterative verification steps rather
than reusing the recursive generators in `merkle`, so a bug in one side cannot hide a bug in
the other. Hashing is that of section 2.1.1: leaves and interior nodes carry different one-byte
prefixes, which keeps a leaf from ever being passed off as a node (second-preimage defence).

Each verifier returns None or raises `ProofError`.
"""

import hashlib

HASH_SIZE = 32

# The hash of the empty tree: MTH({}) = SHA-256() (RFC 9162 section 2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(Exception):
    """A proof, root or argument that does not verify; the message says which check failed."""


def leaf_hash(data):
    """MTH of a one-leaf tree: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left, right):
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _check_hash(value, what):
    if not isinstance(value, (bytes, bytearray)) or len(value) != HASH_SIZE:
        raise ProofError("%s is not a %d-byte hash" % (what, HASH_SIZE))


def _check_path(proof):
    for position, value in enumerate(proof):
        _check_hash(value, "proof element %d" % position)


def verify_inclusion(leaf, index, size, proof, root):
    """Check that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves with `root`.

    RFC 9162 section 2.1.3.2. Raises ProofError when the index is out of range, the proof has
    the wrong length or a malformed element, or the recomputed root differs.
    """
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root")
    _check_path(proof)
    if index < 0 or index >= size:
        raise ProofError("leaf index %d is outside a tree of %d leaves" % (index, size))
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than a tree of %d leaves needs" % size)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A right-edge node with no right sibling is promoted unchanged: skip the levels
            # where it is a left child, as the tree has nothing to hash it with there.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than a tree of %d leaves needs" % size)
    if r != root:
        raise ProofError("inclusion proof does not lead to the given root")


def verify_consistency(old_size, new_size, old_root, new_root, proof):
    """Check that the tree of `new_size` leaves with `new_root` extends the one of `old_size`.

    RFC 9162 section 2.1.4.2. Equal sizes need an empty proof and equal roots. An old size of
    0 is rejected: the empty tree is a prefix of every tree, so there is nothing to prove, and
    a caller that reaches this case has no earlier checkpoint and must not believe it checked
    one. Raises ProofError on any failed check.
    """
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    _check_path(proof)
    if old_size <= 0:
        raise ProofError("consistency needs an old tree of at least one leaf, not %d" % old_size)
    if old_size > new_size:
        raise ProofError("old size %d is larger than new size %d" % (old_size, new_size))
    if old_size == new_size:
        if proof:
            raise ProofError("trees of equal size need an empty consistency proof")
        if old_root != new_root:
            raise ProofError("trees of equal size have different roots")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    # When the old tree is a perfect subtree of the new one, its root is itself the first node
    # of the path, and the generator leaves it out because the verifier already holds it.
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than these sizes need")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than these sizes need")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")
