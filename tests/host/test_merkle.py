"""Tests of the logger's Merkle tree against RFC 6962 vectors and a naive RFC 9162 reference.

The reference below is written straight from the recursive definitions of MTH, PATH and PROOF
(RFC 9162 sections 2.1.1, 2.1.3.1 and 2.1.4.1) over the full list of leaf hashes; it shares no
code with icpurse.logger.merkle beyond the two hash functions, which the RFC 6962 roots check.
"""

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mp_support import vector_file

from icpurse.logger.merkle import (
    EMPTY_ROOT,
    MemoryNodes,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    new_nodes,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# --- Naive reference, one function per RFC definition ---


def _k(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hashes):
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = _k(len(hashes))
    return node_hash(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m, hashes):
    if len(hashes) == 1:
        return []
    k = _k(len(hashes))
    if m < k:
        return [*ref_path(m, hashes[:k]), ref_mth(hashes[k:])]
    return [*ref_path(m - k, hashes[k:]), ref_mth(hashes[:k])]


def ref_subproof(m, hashes, whole):
    n = len(hashes)
    if m == n:
        return [] if whole else [ref_mth(hashes)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, hashes[:k], whole), ref_mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), ref_mth(hashes[:k])]


def ref_proof(m, hashes):
    return ref_subproof(m, hashes, True)


# The side each proof element is hashed on, read off the same recursions. A verifier's work
# depends on (index, size) or (old size, new size) only through this shape, so a proof checked
# under other sizes must fail exactly when the shape differs.


def ref_path_shape(m, n):
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path_shape(m, k), "right"]
    return [*ref_path_shape(m - k, n - k), "left"]


def ref_proof_shape(m, n, whole=True):
    if m == n:
        return [] if whole else ["start"]
    k = _k(n)
    if m <= k:
        return [*ref_proof_shape(m, k, whole), "right"]
    return [*ref_proof_shape(m - k, n - k, False), "left"]


# --- Helpers ---


class StrictNodes(MemoryNodes):
    """MemoryNodes that also fails on any read of a node not complete in a tree of `size`,
    and counts reads, so tests can bound the cost of a proof."""

    def __init__(self):
        super().__init__()
        self.size = 0
        self.reads = 0

    def get(self, level, index):
        if (index + 1) << level > self.size:
            raise AssertionError("read of incomplete node (%d, %d)" % (level, index))
        self.reads += 1
        return super().get(level, index)


def build(leaf_hashes, cuts=()):
    """A StrictNodes holding `leaf_hashes`, appended in batches split at `cuts`."""
    nodes = StrictNodes()
    bounds = [*sorted({c for c in cuts if 0 < c < len(leaf_hashes)}), len(leaf_hashes)]
    start = 0
    for end in bounds:
        for level, index, value in new_nodes(start, leaf_hashes[start:end], nodes.get):
            nodes.put(level, index, value)
        start = end
        nodes.size = end
    return nodes


def complete_nodes(size):
    """Every (level, index) a tree of `size` leaves must store."""
    out = set()
    level = 0
    while (1 << level) <= size:
        out.update((level, i) for i in range(size >> level))
        level += 1
    return out


def flip(value, position):
    out = bytearray(value)
    out[position % len(out)] ^= 0x01
    return bytes(out)


leaves = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


# --- RFC 6962 vectors ---


def _vectors():
    data = json.loads(Path(vector_file("rfc6962_merkle_roots.json")).read_text())
    inputs = [bytes.fromhex(h) for h in data["leaf_inputs_hex"]]
    roots = [bytes.fromhex(h) for h in data["root_by_tree_size_hex"]]
    return inputs, roots


@pytest.mark.parametrize("cuts", [(), (1, 2, 3, 4, 5, 6, 7), (3,), (2, 5), (4, 7)])
def test_rfc6962_roots_for_every_size(cuts):
    inputs, roots = _vectors()
    assert roots[0] == EMPTY_ROOT
    hashes = [leaf_hash(d) for d in inputs]
    for n in range(len(roots)):
        nodes = build(hashes[:n], cuts)
        assert root(n, nodes.get) == roots[n]
        assert ref_mth(hashes[:n]) == roots[n]


def test_rfc6962_seven_leaf_examples():
    """The worked examples of RFC 6962 section 2.1.3, leaves d0..d6 named a..f and d6."""
    inputs, roots = _vectors()
    a, b, c, d, e, f, d6 = (leaf_hash(x) for x in inputs[:7])
    g, h, i = node_hash(a, b), node_hash(c, d), node_hash(e, f)
    j = d6
    k, l_ = node_hash(g, h), node_hash(i, j)
    nodes = build([a, b, c, d, e, f, d6])
    assert root(7, nodes.get) == node_hash(k, l_) == roots[7]
    assert inclusion_proof(0, 7, nodes.get) == [b, h, l_]
    assert inclusion_proof(3, 7, nodes.get) == [c, g, l_]
    assert inclusion_proof(4, 7, nodes.get) == [f, j, k]
    assert inclusion_proof(6, 7, nodes.get) == [i, k]
    assert consistency_proof(3, 7, nodes.get) == [c, d, g, l_]
    assert consistency_proof(4, 7, nodes.get) == [l_]
    assert consistency_proof(6, 7, nodes.get) == [i, j, k]
    for old, proof in ((3, [c, d, g, l_]), (4, [l_]), (6, [i, j, k])):
        verify_consistency(old, 7, roots[old], roots[7], proof)


# --- Properties against the reference ---


@settings(max_examples=60, deadline=None)
@given(data=leaves, cuts=st.lists(st.integers(0, 70), max_size=6))
def test_appends_store_exactly_the_complete_nodes(data, cuts):
    hashes = [leaf_hash(x) for x in data]
    nodes = build(hashes, cuts)
    assert set(nodes._nodes) == complete_nodes(len(hashes))
    for n in range(len(hashes) + 1):
        nodes.size = n
        assert root(n, nodes.get) == ref_mth(hashes[:n])


@settings(max_examples=60, deadline=None)
@given(data=leaves, cuts=st.lists(st.integers(0, 70), max_size=6))
def test_every_proof_matches_the_reference_and_verifies(data, cuts):
    hashes = [leaf_hash(x) for x in data]
    nodes = build(hashes, cuts)
    for n in range(1, len(hashes) + 1):
        # Proofs for an earlier size read only nodes complete at that size.
        nodes.size = n
        top = ref_mth(hashes[:n])
        for m in range(n):
            proof = inclusion_proof(m, n, nodes.get)
            assert proof == ref_path(m, hashes[:n])
            verify_inclusion(hashes[m], m, n, proof, top)
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, nodes.get)
            assert proof == (ref_proof(m, hashes[:n]) if m < n else [])
            verify_consistency(m, n, ref_mth(hashes[:m]), top, proof)


@pytest.mark.parametrize("batch", [1, 3, 16])
def test_every_shape_up_to_40_leaves(batch):
    """Exhaustive over small trees, where hypothesis would mostly draw short lists."""
    hashes = [leaf_hash(b"%d" % i) for i in range(40)]
    nodes = build(hashes, range(0, 40, batch))
    for n in range(1, 41):
        nodes.size = n
        top = ref_mth(hashes[:n])
        assert root(n, nodes.get) == top
        for m in range(n):
            proof = inclusion_proof(m, n, nodes.get)
            assert proof == ref_path(m, hashes[:n])
            verify_inclusion(hashes[m], m, n, proof, top)
        for m in range(1, n):
            proof = consistency_proof(m, n, nodes.get)
            assert proof == ref_proof(m, hashes[:n])
            verify_consistency(m, n, ref_mth(hashes[:m]), top, proof)


@settings(max_examples=200, deadline=None)
@given(data=leaves, st_data=st.data())
def test_tampered_inclusion_is_rejected(data, st_data):
    hashes = [leaf_hash(x) for x in data]
    n = len(hashes)
    nodes = build(hashes)
    m = st_data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(m, n, nodes.get)
    top = root(n, nodes.get)
    byte = st_data.draw(st.integers(0, 31))
    cases = [
        (flip(hashes[m], byte), m, n, proof, top),
        (hashes[m], m, n, proof, flip(top, byte)),
        (hashes[m], m, n, [*proof, top], top),
        (hashes[m], n, n, proof, top),
        (hashes[m], -1, n, proof, top),
        (hashes[m], m, n, [*proof[:-1], proof[-1][:31]] if proof else [b"x"], top),
    ]
    if proof:
        where = st_data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[where] = flip(bad[where], byte)
        cases.append((hashes[m], m, n, bad, top))
        cases.append((hashes[m], m, n, proof[:-1], top))
    for case in cases:
        with pytest.raises(ProofError):
            verify_inclusion(*case)


@settings(max_examples=200, deadline=None)
@given(data=leaves.filter(lambda d: len(d) >= 2), st_data=st.data())
def test_tampered_consistency_is_rejected(data, st_data):
    hashes = [leaf_hash(x) for x in data]
    n = len(hashes)
    nodes = build(hashes)
    m = st_data.draw(st.integers(1, n - 1))
    proof = consistency_proof(m, n, nodes.get)
    old, new = ref_mth(hashes[:m]), ref_mth(hashes)
    verify_consistency(m, n, old, new, proof)
    byte = st_data.draw(st.integers(0, 31))
    where = st_data.draw(st.integers(0, len(proof) - 1))
    bad = list(proof)
    bad[where] = flip(bad[where], byte)
    cases = [
        (m, n, old, new, bad),
        (m, n, flip(old, byte), new, proof),
        (m, n, old, flip(new, byte), proof),
        (m, n, old, new, proof[:-1]),
        (m, n, old, new, [*proof, new]),
        (m, n, old, new, []),
        (0, n, EMPTY_ROOT, new, proof),
        (n, m, new, old, proof),
        (m, m, old, old, proof),
        (n, n, new, flip(new, byte), []),
    ]
    for case in cases:
        with pytest.raises(ProofError):
            verify_consistency(*case)


# Distinct leaves, so that no two subtrees share a hash: with equal leaves a node and its
# sibling can coincide, and a proof may then honestly fit another index.
distinct = st.integers(2, 70).map(lambda n: [leaf_hash(b"%d" % i) for i in range(n)])


@settings(max_examples=200, deadline=None)
@given(hashes=distinct, st_data=st.data())
def test_inclusion_under_other_index_or_size(hashes, st_data):
    n = len(hashes)
    nodes = build(hashes)
    top = root(n, nodes.get)
    m = st_data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(m, n, nodes.get)
    other_m = st_data.draw(st.integers(0, n - 1).filter(lambda i: i != m))
    with pytest.raises(ProofError):
        verify_inclusion(hashes[m], other_m, n, proof, top)
    other_n = st_data.draw(st.integers(m + 1, 2 * n + 2).filter(lambda i: i != n))
    if ref_path_shape(m, other_n) != ref_path_shape(m, n):
        with pytest.raises(ProofError):
            verify_inclusion(hashes[m], m, other_n, proof, top)
    else:
        # RFC 9162 hashing does not commit to the tree size: a leaf on the left keeps the same
        # proof across sizes with the same shape. The signed checkpoint is what binds the size.
        verify_inclusion(hashes[m], m, other_n, proof, top)


@settings(max_examples=200, deadline=None)
@given(hashes=distinct, st_data=st.data())
def test_consistency_under_other_sizes(hashes, st_data):
    n = len(hashes)
    nodes = build(hashes)
    new = root(n, nodes.get)
    m = st_data.draw(st.integers(1, n - 1))
    old = ref_mth(hashes[:m])
    proof = consistency_proof(m, n, nodes.get)
    other_m = st_data.draw(st.integers(1, n - 1).filter(lambda i: i != m))
    assert ref_proof_shape(other_m, n) != ref_proof_shape(m, n)
    with pytest.raises(ProofError):
        verify_consistency(other_m, n, old, new, proof)
    other_n = st_data.draw(st.integers(m + 1, 2 * n + 2).filter(lambda i: i != n))
    if ref_proof_shape(m, other_n) != ref_proof_shape(m, n):
        with pytest.raises(ProofError):
            verify_consistency(m, other_n, old, new, proof)
    else:
        verify_consistency(m, other_n, old, new, proof)


def test_edge_cases():
    nodes = build([leaf_hash(b"x")])
    one = root(1, nodes.get)
    assert root(0, nodes.get) == EMPTY_ROOT
    assert one == leaf_hash(b"x")
    assert inclusion_proof(0, 1, nodes.get) == []
    verify_inclusion(one, 0, 1, [], one)
    verify_consistency(1, 1, one, one, [])
    assert consistency_proof(1, 1, nodes.get) == []
    with pytest.raises(ProofError, match="outside"):
        verify_inclusion(one, 0, 0, [], EMPTY_ROOT)
    with pytest.raises(ProofError, match="at least one leaf"):
        verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="32-byte"):
        verify_inclusion(one[:31], 0, 1, [], one)
    for bad in ((1, 1), (-1, 1), (0, 0)):
        with pytest.raises(ProofError, match="outside"):
            inclusion_proof(*bad, nodes.get)
    for bad in ((0, 1), (2, 1), (-1, 1), (0, 0)):
        with pytest.raises(ProofError, match="no consistency proof"):
            consistency_proof(*bad, nodes.get)
    with pytest.raises(ValueError):
        new_nodes(1, [b"short"], nodes.get)
    with pytest.raises(ValueError):
        root(-1, nodes.get)


def test_missing_storage_raises_key_error():
    nodes = MemoryNodes()
    with pytest.raises(KeyError):
        root(3, nodes.get)


# --- Scale ---


def test_hundred_thousand_leaves_in_batches():
    rng = random.Random(9162)
    size = 100_000
    nodes = StrictNodes()
    for start in range(0, size, 1000):
        batch = [leaf_hash(b"record %d" % i) for i in range(start, start + 1000)]
        for level, index, value in new_nodes(start, batch, nodes.get):
            nodes.put(level, index, value)
        nodes.size = start + 1000
    # Each level holds size >> level nodes: just under 2 * size in all.
    assert len(nodes) == sum(size >> level for level in range(size.bit_length()))
    top = root(size, nodes.get)
    log = size.bit_length()
    for _ in range(200):
        index = rng.randrange(size)
        nodes.reads = 0
        proof = inclusion_proof(index, size, nodes.get)
        assert nodes.reads <= log * log
        verify_inclusion(leaf_hash(b"record %d" % index), index, size, proof, top)
        old = rng.randrange(1, size)
        nodes.size = old
        old_root = root(old, nodes.get)
        nodes.size = size
        nodes.reads = 0
        proof = consistency_proof(old, size, nodes.get)
        assert nodes.reads <= log * log
        verify_consistency(old, size, old_root, top, proof)
