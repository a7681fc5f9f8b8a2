"""Signature and public-key encodings: raw r||s and SEC1 points with validation (strict DER is
in purse.crypto.der).

Decoders accept exactly one encoding of each value and raise on everything else:
InvalidSignature for signatures, InvalidKey for public keys. A decoded signature's r and s are
in [1, n-1]; a decoded point is on the curve, has coordinates below p and is not infinity.
"""

from purse.crypto import p256
from purse.errors import InvalidKey, InvalidSignature

N = p256.N
P = p256.P


def encode_raw(r, s):
    """The 64-byte r||s form that protocol records carry."""
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def decode_raw(sig):
    """(r, s) from 64 bytes r||s; both must lie in [1, n-1]."""
    if len(sig) != 64:
        raise InvalidSignature("raw signature must be 64 bytes")
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    if not (0 < r < N and 0 < s < N):
        raise InvalidSignature("signature r or s is out of range [1, n-1]")
    return r, s


def encode_point(x, y, compressed=True):
    """SEC1 encoding of an affine point: 33 bytes 02/03||x, or 65 bytes 04||x||y."""
    if compressed:
        return bytes((2 + (y & 1),)) + x.to_bytes(32, "big")
    return b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


def decode_point(data):
    """The affine (x, y) of a SEC1 point, fully validated, or raise InvalidKey.

    Accepts 33-byte compressed and 65-byte uncompressed forms; rejects the one-byte infinity
    encoding, other lengths and prefixes, coordinates >= p, and points off the curve.
    Decompression takes a square root: 260 field multiplications.
    """
    n = len(data)
    if n == 0:
        raise InvalidKey("public key is empty")
    prefix = data[0]
    if n == 1 and prefix == 0:
        raise InvalidKey("public key is the point at infinity")
    if n == 33 and prefix in (2, 3):
        x = int.from_bytes(data[1:33], "big")
        if x >= P:
            raise InvalidKey("public key coordinate out of range")
        y = p256.fsqrt(p256.fmul(p256.fmul(x, x) - 3, x) + p256.B)
        if y is None:
            raise InvalidKey("public key is not a point of P-256")
        if (y & 1) != (prefix & 1):
            y = P - y
        # y == 0 would make both prefixes valid; no P-256 point has y == 0, so none gets here.
        return x, y
    if n == 65 and prefix == 4:
        x = int.from_bytes(data[1:33], "big")
        y = int.from_bytes(data[33:65], "big")
        if x >= P or y >= P:
            raise InvalidKey("public key coordinate out of range")
        if not p256.on_curve(x, y):
            raise InvalidKey("public key is not a point of P-256")
        return x, y
    raise InvalidKey("public key must be 33 bytes (02/03) or 65 bytes (04)")
