"""Property tests of challenge sealing on CPython: round trips and random tampering."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from purse.crypto.seal import TAG_SIZE, SealKey, open_sealed, seal
from purse.errors import SealError

keys = st.binary(min_size=32, max_size=32)
nonces = st.binary(min_size=8, max_size=40)
texts = st.binary(max_size=200)


@given(key=keys, nonce=nonces, plaintext=texts, ad=texts)
def test_open_inverts_seal(key, nonce, plaintext, ad):
    blob = seal(key, nonce, plaintext, ad)
    assert len(blob) == len(plaintext) + TAG_SIZE
    assert open_sealed(key, nonce, blob, ad) == plaintext


def _mutate(blob, data):
    """Return a blob different from `blob`: flipped bits, a cut, an extension or a rewrite."""
    kind = data.draw(st.sampled_from(["flip", "truncate", "extend", "replace", "splice"]))
    if kind == "flip" and blob:
        out = bytearray(blob)
        positions = data.draw(
            st.lists(st.integers(0, len(blob) * 8 - 1), min_size=1, max_size=8, unique=True)
        )
        for bit in positions:
            out[bit >> 3] ^= 1 << (bit & 7)
        return bytes(out)
    if kind == "truncate" and blob:
        return blob[: data.draw(st.integers(0, len(blob) - 1))]
    if kind == "extend":
        return blob + data.draw(st.binary(min_size=1, max_size=40))
    if kind == "splice" and blob:
        start = data.draw(st.integers(0, len(blob) - 1))
        end = data.draw(st.integers(start + 1, len(blob)))
        return blob[:start] + data.draw(st.binary(max_size=20)) + blob[end:]
    return data.draw(st.binary(max_size=len(blob) + 20))


@settings(max_examples=300)
@given(key=keys, nonce=nonces, plaintext=texts, ad=texts, data=st.data())
def test_mutated_blob_never_opens(key, nonce, plaintext, ad, data):
    box = SealKey(key)
    blob = box.seal(nonce, plaintext, ad)
    mutated = _mutate(blob, data)
    if mutated == blob:
        return
    # Only SealError may come out: any other exception would be a bug an attacker could probe.
    with pytest.raises(SealError):
        box.open(nonce, mutated, ad)


@given(key=keys, other_key=keys, nonce=nonces, other_nonce=nonces, plaintext=texts, ad=texts)
def test_other_key_or_nonce_never_opens(key, other_key, nonce, other_nonce, plaintext, ad):
    blob = seal(key, nonce, plaintext, ad)
    if other_key != key:
        with pytest.raises(SealError):
            open_sealed(other_key, nonce, blob, ad)
    if other_nonce != nonce:
        with pytest.raises(SealError):
            open_sealed(key, other_nonce, blob, ad)


@given(key=keys, nonce=nonces, blob=st.binary(max_size=120), ad=texts)
def test_random_blob_raises_only_seal_error(key, nonce, blob, ad):
    with pytest.raises(SealError):
        open_sealed(key, nonce, blob, ad)
