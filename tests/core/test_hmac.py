"""HMAC-SHA256 against the test cases of RFC 4231 section 4 (all seven, SHA-256 column)."""

from _check import unhex

from purse.crypto.hmac import HmacKey, equal, hmac_sha256

# (key, data, HMAC-SHA-256) from RFC 4231 sections 4.2 to 4.8. Test case 5 is truncated to
# 128 bits in the RFC, so only its first 16 bytes are compared.
RFC4231 = (
    (b"\x0b" * 20, b"Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50,
     "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50,
     "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation",
     "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131,
     b"This is a test using a larger than block-size key and a larger than block-size data."
     b" The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
)  # fmt: skip


def test_rfc4231_cases():
    for key, data, expected in RFC4231:
        want = unhex(expected)
        assert hmac_sha256(key, data)[: len(want)] == want


def test_parts_are_concatenated():
    key = HmacKey(b"Jefe")
    whole = key.mac(b"what do ya want for nothing?")
    assert key.mac(b"what do ya ", b"want for ", b"nothing?") == whole
    assert key.mac(b"what do ya want for nothing?", b"") == whole


def test_equal():
    assert equal(b"", b"")
    assert equal(b"abc", b"abc")
    assert not equal(b"abc", b"abd")
    assert not equal(b"abc", b"ab")
    assert not equal(b"\x00", b"\x80")
