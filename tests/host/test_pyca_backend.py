"""The pyca/cryptography backend (icpurse.crypto_pyca.PycaBackend) against the Backend contract."""

import pytest

from icpurse.crypto_pyca import HALF_N, N, P, PycaBackend
from purse.crypto.backend import Backend
from purse.errors import CryptoError, InvalidKey, InvalidSignature

BACKEND = PycaBackend()

# RFC 6979 appendix A.2.5 (ECDSA, 256-bit prime field, P-256): private key x, public key
# (Ux, Uy), and the SHA-256 signatures of "sample" and "test". The RFC prints s as the signer
# computed it; the backend returns the low-s form, so "sample" (whose s is high) is compared
# with n - s.
RFC6979_X = bytes.fromhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721")
RFC6979_UX = bytes.fromhex("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6")
RFC6979_UY = bytes.fromhex("7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299")
RFC6979_SHA256 = (
    (
        b"sample",
        0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
        0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8,
    ),
    (
        b"test",
        0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
        0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083,
    ),
)
RFC6979_COMPRESSED = b"\x03" + RFC6979_UX  # Uy is odd.
RFC6979_UNCOMPRESSED = b"\x04" + RFC6979_UX + RFC6979_UY

# The P-256 generator G (SEC 2 v2 section 2.4.2), a point everyone agrees on.
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


def raw(r, s):
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def flip(data, bit):
    out = bytearray(data)
    out[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(out)


def test_is_a_backend():
    assert isinstance(BACKEND, Backend)
    assert BACKEND.name == "pyca"
    assert BACKEND.sha256(b"ab", b"c") == bytes.fromhex(
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_rfc6979_public_key():
    assert BACKEND.public_key(RFC6979_X) == RFC6979_COMPRESSED
    assert BACKEND.public_key(bytearray(RFC6979_X)) == RFC6979_COMPRESSED


@pytest.mark.parametrize("message, r, s", RFC6979_SHA256, ids=["sample", "test"])
def test_rfc6979_deterministic_signature(message, r, s):
    low_s = N - s if s > HALF_N else s
    assert BACKEND.sign(RFC6979_X, message) == raw(r, low_s)
    # The signature as the RFC prints it (high s for "sample") verifies as well.
    BACKEND.verify(RFC6979_COMPRESSED, message, raw(r, s))
    BACKEND.verify(RFC6979_UNCOMPRESSED, message, raw(r, s))


def test_sample_vector_exercises_normalisation():
    # If this ever fails, the vectors above stop testing the high-s to low-s step.
    assert RFC6979_SHA256[0][2] > HALF_N
    assert RFC6979_SHA256[1][2] <= HALF_N


def test_sign_verify_round_trip():
    for i in range(1, 40):
        private = (i * 0x1F2E3D4C5B6A798812345).to_bytes(32, "big")
        public = BACKEND.public_key(private)
        assert len(public) == 33 and public[0] in (2, 3)
        message = b"payment %d" % i
        signature = BACKEND.sign(private, message)
        assert len(signature) == 64
        assert int.from_bytes(signature[32:], "big") <= HALF_N
        assert BACKEND.verify(public, message, signature) is None
        assert BACKEND.sign(private, message) == signature  # deterministic


def test_extra_entropy_gives_a_valid_randomised_low_s_signature():
    message = b"sample"
    deterministic = BACKEND.sign(RFC6979_X, message)
    seen = set()
    for i in range(8):
        signature = BACKEND.sign(RFC6979_X, message, extra_entropy=bytes([i]) * 32)
        assert int.from_bytes(signature[32:], "big") <= HALF_N
        BACKEND.verify(RFC6979_COMPRESSED, message, signature)
        seen.add(signature)
    assert deterministic not in seen
    assert len(seen) == 8


def test_private_key_range_and_extremes():
    # 1 * G = G, whose y is odd.
    assert BACKEND.public_key((1).to_bytes(32, "big")) == b"\x03" + GX.to_bytes(32, "big")
    signature = BACKEND.sign((N - 1).to_bytes(32, "big"), b"edge")
    BACKEND.verify(BACKEND.public_key((N - 1).to_bytes(32, "big")), b"edge", signature)
    secret = (N - 1).to_bytes(32, "big")
    for bad in (bytes(32), N.to_bytes(32, "big"), b"\xff" * 32, bytes(31), bytes(33), secret[1:]):
        with pytest.raises(InvalidKey) as caught:
            BACKEND.public_key(bad)
        with pytest.raises(InvalidKey):
            BACKEND.sign(bad, b"m")
        # Never a key byte in a message.
        assert bad.hex() not in str(caught.value)
        assert secret.hex() not in str(caught.value)


def test_one_bit_flips_are_rejected():
    message = b"pay 1000 to B"
    signature = BACKEND.sign(RFC6979_X, message)
    for bit in range(len(signature) * 8):
        with pytest.raises(InvalidSignature):
            BACKEND.verify(RFC6979_COMPRESSED, message, flip(signature, bit))
    for bit in range(len(message) * 8):
        with pytest.raises(InvalidSignature):
            BACKEND.verify(RFC6979_COMPRESSED, flip(message, bit), signature)
    # A flipped public key is either not a point (InvalidKey) or another key (InvalidSignature).
    for public in (RFC6979_COMPRESSED, RFC6979_UNCOMPRESSED):
        for bit in range(len(public) * 8):
            with pytest.raises(CryptoError):
                BACKEND.verify(flip(public, bit), message, signature)


def test_high_s_is_accepted_by_verify():
    message = b"generic ecdsa"
    signature = BACKEND.sign(RFC6979_X, message)
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    high = raw(r, N - s)
    assert N - s > HALF_N
    BACKEND.verify(RFC6979_COMPRESSED, message, high)
    BACKEND.verify(RFC6979_UNCOMPRESSED, message, high)


# The curve's b (SEC 2 v2 section 2.4.2). x = 0 is on P-256: (0, Y_AT_ZERO), Y_AT_ZERO^2 = b.
# Written with x = p instead of 0, it is the classic non-canonical encoding of a valid point,
# which must be refused.
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
Y_AT_ZERO = pow(B, (P + 1) // 4, P)


def _sqrt_exists(value):
    return pow(value, (P - 1) // 2, P) in (0, 1)


def _not_an_x():
    # The smallest x for which x^3 - 3x + b has no square root modulo p: no point has it.
    x = 1
    while _sqrt_exists((x * x * x - 3 * x + B) % P):
        x += 1
    return x


def test_canonical_zero_x_point_is_valid():
    # Proves the x = p cases below are refused for their encoding, not for being off the curve.
    assert Y_AT_ZERO * Y_AT_ZERO % P == B
    with pytest.raises(InvalidSignature):
        BACKEND.verify(b"\x04" + bytes(32) + Y_AT_ZERO.to_bytes(32, "big"), b"m", raw(1, 1))
    with pytest.raises(InvalidSignature):
        BACKEND.verify(b"\x02" + bytes(32), b"m", raw(1, 1))


INVALID_PUBLIC_KEYS = {
    "infinity": b"\x00",
    "empty": b"",
    "compressed-x-not-on-curve": b"\x02" + _not_an_x().to_bytes(32, "big"),
    "compressed-x-zero-plus-p": b"\x02" + P.to_bytes(32, "big"),
    "compressed-x-above-p": b"\x03" + (P + 5).to_bytes(32, "big"),
    "compressed-x-all-ones": b"\x02" + b"\xff" * 32,
    "uncompressed-off-curve": b"\x04" + GX.to_bytes(32, "big") + (GY ^ 1).to_bytes(32, "big"),
    "uncompressed-x-zero-plus-p": b"\x04" + P.to_bytes(32, "big") + Y_AT_ZERO.to_bytes(32, "big"),
    "uncompressed-y-equals-p": b"\x04" + GX.to_bytes(32, "big") + P.to_bytes(32, "big"),
    "uncompressed-zero": b"\x04" + bytes(64),
    "bad-prefix-33": b"\x04" + RFC6979_UX,
    "bad-prefix-65": b"\x02" + RFC6979_UX + RFC6979_UY,
    "hybrid-prefix": b"\x07" + RFC6979_UX + RFC6979_UY,
    "raw-xy-64": RFC6979_UX + RFC6979_UY,
    "x-only-32": RFC6979_UX,
    "compressed-plus-byte": RFC6979_COMPRESSED + b"\x00",
    "uncompressed-minus-byte": RFC6979_UNCOMPRESSED[:-1],
    "not-bytes": "03" + RFC6979_UX.hex(),
}


@pytest.mark.parametrize("public", INVALID_PUBLIC_KEYS.values(), ids=INVALID_PUBLIC_KEYS.keys())
def test_invalid_public_keys_raise_invalid_key(public):
    signature = BACKEND.sign(RFC6979_X, b"m")
    with pytest.raises(InvalidKey) as caught:
        BACKEND.verify(public, b"m", signature)
    if isinstance(public, bytes) and len(public) > 4:
        assert public.hex() not in str(caught.value)


@pytest.mark.parametrize(
    "r, s",
    [
        (0, 1),
        (1, 0),
        (0, 0),
        (N, 1),
        (1, N),
        (N + 1, 1),
        (2**256 - 1, 1),
        (1, 2**256 - 1),
    ],
    ids=["r=0", "s=0", "both=0", "r=n", "s=n", "r=n+1", "r=max", "s=max"],
)
def test_out_of_range_r_or_s_is_rejected(r, s):
    with pytest.raises(InvalidSignature):
        BACKEND.verify(RFC6979_COMPRESSED, b"sample", raw(r, s))


def _key_for_signature(message, r_nonce, s):
    """A private key under which (r, s) signs `message`, with r = x(k G) mod n for k = r_nonce.

    ECDSA accepts (r, s) for Q when x(s^-1 e G + s^-1 r Q) = r; with Q = d G and
    d = r^-1 (s k - e) that point is k G. This builds valid signatures with a chosen s.
    """
    e = int.from_bytes(BACKEND.sha256(message), "big") % N
    r_point = BACKEND.public_key(r_nonce.to_bytes(32, "big"))
    r = int.from_bytes(r_point[1:], "big") % N
    d = pow(r, -1, N) * (s * r_nonce - e) % N
    assert d != 0
    return r, d.to_bytes(32, "big")


def test_small_s_verifies_and_s_plus_n_is_rejected():
    # s = 1 is valid; s + n also fits in 32 bytes and is the same value mod n, so a verifier
    # that reduced s instead of range-checking it would accept it.
    message = b"crafted"
    r, private = _key_for_signature(message, 0x1234567, 1)
    public = BACKEND.public_key(private)
    BACKEND.verify(public, message, raw(r, 1))
    assert 1 + N < 2**256
    with pytest.raises(InvalidSignature):
        BACKEND.verify(public, message, raw(r, 1 + N))
    # n - 1 is the high-s twin of s = 1 and is valid too.
    BACKEND.verify(public, message, raw(r, N - 1))


@pytest.mark.parametrize("size", [0, 63, 65, 70, 72])
def test_signature_of_wrong_length_is_rejected(size):
    signature = BACKEND.sign(RFC6979_X, b"m")
    wrong = (signature + bytes(8))[:size]
    with pytest.raises(InvalidSignature):
        BACKEND.verify(RFC6979_COMPRESSED, b"m", wrong)


def test_der_signature_is_not_accepted():
    # Raw r||s only: the DER form of a valid signature is the wrong format at this interface.
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    signature = BACKEND.sign(RFC6979_X, b"m")
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    with pytest.raises(InvalidSignature):
        BACKEND.verify(RFC6979_COMPRESSED, b"m", der)
