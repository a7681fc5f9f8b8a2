"""ECDSA P-256: RFC 6979 A.2.5 vectors, low-s, encodings, keys and rejection paths."""

from _check import raises, unhex

from purse.crypto import der, ecdsa, encoding, p256
from purse.crypto.pure import PureBackend
from purse.errors import InvalidKey, InvalidSignature

N = p256.N

# RFC 6979 appendix A.2.5 (P-256): private key x, public key (Ux, Uy), SHA-256 signatures.
X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
UX = 0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
UY = 0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299
VECTORS = (
    (b"sample",
     0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
     0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8),
    (b"test",
     0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
     0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083),
)  # fmt: skip
BACKEND = PureBackend()
KEY = X.to_bytes(32, "big")


def test_rfc6979_public_key():
    assert ecdsa.public_point(X) == (UX, UY)
    assert BACKEND.public_key(KEY) == encoding.encode_point(UX, UY)


def test_rfc6979_raw_signatures():
    for message, r, s in VECTORS:
        assert ecdsa.sign(X, message) == (r, s)


def test_low_s_is_a_separate_step():
    message, r, s = VECTORS[0]
    assert s > p256.HALF_N
    assert ecdsa.low_s(r, s) == (r, N - s)
    assert ecdsa.low_s(*VECTORS[1][1:]) == VECTORS[1][1:]
    assert BACKEND.sign(KEY, message) == encoding.encode_raw(r, N - s)


def test_verify_accepts_both_s_and_rejects_changes():
    key = ecdsa.PublicKey(UX, UY)
    for message, r, s in VECTORS:
        ecdsa.verify(key, message, r, s)
        ecdsa.verify(key, message, r, N - s)
        for bad in ((r, s + 1), (r + 1, s), (0, s), (r, 0), (N, s), (r, N)):
            with raises(InvalidSignature):
                ecdsa.verify(key, message, bad[0], bad[1])
        with raises(InvalidSignature):
            ecdsa.verify(key, message + b"!", r, s)


def test_precomputed_key_agrees():
    pub = encoding.encode_point(UX, UY)
    backend = PureBackend()
    assert backend.precompute(pub) == 8192
    for message, r, s in VECTORS:
        sig = encoding.encode_raw(r, s)
        backend.verify(pub, message, sig)
        backend.verify(encoding.encode_point(UX, UY, False), message, sig)
        with raises(InvalidSignature):
            backend.verify(pub, message[1:], sig)
    backend.forget(pub)
    assert backend.precompute(pub, spans=8) == 4096
    backend.verify(pub, b"test", encoding.encode_raw(*VECTORS[1][1:]))


def test_extra_entropy_changes_nonce_but_verifies():
    a = BACKEND.sign(KEY, b"msg", extra_entropy=b"\x01" * 32)
    b = BACKEND.sign(KEY, b"msg", extra_entropy=b"\x02" * 32)
    assert a != b and a != BACKEND.sign(KEY, b"msg")
    assert a == BACKEND.sign(KEY, b"msg", extra_entropy=b"\x01" * 32)
    pub = BACKEND.public_key(KEY)
    for sig in (a, b):
        BACKEND.verify(pub, b"msg", sig)
        assert int.from_bytes(sig[32:], "big") <= p256.HALF_N


def test_key_generation_from_entropy():
    d = ecdsa.generate_private(b"\x07" * 32)
    assert 0 < d < N
    assert d == ecdsa.generate_private(b"\x07" * 32)
    assert d != ecdsa.generate_private(b"\x08" * 32)
    with raises(ValueError):
        ecdsa.generate_private(b"short")


def test_private_key_checks():
    for bad in (b"", b"\x00" * 32, N.to_bytes(32, "big"), b"\xff" * 32, KEY + b"\x00"):
        with raises(InvalidKey):
            BACKEND.public_key(bad)
        with raises(InvalidKey):
            BACKEND.sign(bad, b"m")


def test_der_round_trip_and_strictness():
    for _, r, s in VECTORS:
        encoded = der.encode_der(r, s)
        assert der.decode_der(encoded) == (r, s)
    encoded = der.encode_der(1, 0x80)
    assert encoded == unhex("3007 020101 02020080")
    bad = (
        "3006020101020180",  # negative s
        "300702010102020001",  # non-minimal s
        "30070201010202008001",  # wrong sequence length
        "3006020101020200",  # truncated
        "30060201010201010000",  # trailing bytes outside the sequence
        "3106020101020101",  # not a SEQUENCE
        "308106020101020101",  # long-form length
        "3006020100020101",  # r = 0
        "300603010102010101",  # wrong tag
    )
    for text in bad:
        with raises(InvalidSignature):
            der.decode_der(unhex(text))
    with raises(InvalidSignature):
        der.decode_der(der.encode_der(N, 1))


def test_raw_decoding():
    sig = encoding.encode_raw(5, 7)
    assert encoding.decode_raw(sig) == (5, 7)
    for bad in (sig[:-1], sig + b"\x00", encoding.encode_raw(0, 7), encoding.encode_raw(N, 7)):
        with raises(InvalidSignature):
            encoding.decode_raw(bad)
    with raises(InvalidSignature):
        BACKEND.verify(BACKEND.public_key(KEY), b"m", sig[:-1])
    with raises(InvalidKey):
        BACKEND.verify(b"\x04" + b"\x00" * 64, b"m", sig)
