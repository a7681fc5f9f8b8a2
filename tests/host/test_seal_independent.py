"""Independent checker of the seal's known answers (CONVENTIONS 17: home-made vectors).

The known-answer table of tests/core/test_seal.py is read as data (by ast, without importing
purse) and every row is recomputed here from the specification in the docstring of
firmware/purse/crypto/seal.py, with CPython's stdlib hmac and nothing from the firmware. If this
file and the firmware agree on every row, the vectors say what the specification says.
"""

import ast
import hashlib
import hmac
from pathlib import Path

import pytest

TABLE_FILE = Path(__file__).resolve().parent.parent / "core" / "test_seal.py"


def _hmac(key, message):
    return hmac.new(key, message, hashlib.sha256).digest()


def reference_seal(key, nonce, plaintext, associated_data):
    """The specification, written out as directly as possible."""
    k_enc = _hmac(key, b"icpurse seal v1 enc")
    k_mac = _hmac(key, b"icpurse seal v1 mac")
    stream = b""
    counter = 0
    while len(stream) < len(plaintext):
        stream += _hmac(k_enc, bytes([len(nonce)]) + nonce + counter.to_bytes(4, "big"))
        counter += 1
    ciphertext = bytes(p ^ s for p, s in zip(plaintext, stream, strict=False))
    mac_input = (
        b"icpurse seal v1 tag"
        + bytes([len(nonce)])
        + nonce
        + len(associated_data).to_bytes(4, "big")
        + associated_data
        + len(ciphertext).to_bytes(4, "big")
        + ciphertext
    )
    return ciphertext + _hmac(k_mac, mac_input)[:16]


def _known_answers():
    tree = ast.parse(TABLE_FILE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == (
            "KNOWN_ANSWERS"
        ):
            return ast.literal_eval(node.value)
    raise LookupError("KNOWN_ANSWERS not found in %s" % TABLE_FILE)


KNOWN_ANSWERS = _known_answers()


def test_table_is_not_empty():
    assert len(KNOWN_ANSWERS) >= 3


@pytest.mark.parametrize("row", KNOWN_ANSWERS, ids=lambda row: "nonce-" + row[1])
def test_known_answer_matches_the_specification(row):
    key, nonce, ad, plaintext, blob = (bytes.fromhex(v) for v in row)
    assert len(key) == 32
    assert reference_seal(key, nonce, plaintext, ad) == blob


def test_reference_agrees_with_firmware_on_a_challenge():
    # A last cross-check in the other direction: the firmware, fed fresh inputs, agrees with
    # the reference (the table covers fixed inputs only).
    from purse.crypto.seal import seal

    key = bytes(range(100, 132))
    nonce = bytes.fromhex("00000000000003e9")
    plaintext = bytes(range(32)) + (123456).to_bytes(4, "big") + nonce
    for ad in (b"", b"x" * 70):
        assert seal(key, nonce, plaintext, ad) == reference_seal(key, nonce, plaintext, ad)
