"""Signature and public-key encodings: strict DER, raw r||s, and SEC1 points with validation.

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


def _der_int(value):
    body = value.to_bytes(33, "big")
    i = 0
    # Keep one leading zero when the next byte has its high bit set, so the integer is positive.
    while i < 32 and body[i] == 0 and body[i + 1] < 0x80:
        i += 1
    return b"\x02" + bytes((33 - i,)) + body[i:]


def encode_der(r, s):
    """The DER SEQUENCE { INTEGER r, INTEGER s } of a signature (at most 72 bytes)."""
    body = _der_int(r) + _der_int(s)
    return b"\x30" + bytes((len(body),)) + body


def _read_der_int(sig, pos, end):
    """Parse one strict DER INTEGER in sig[pos:end]; return (value, next position)."""
    if end - pos < 2 or sig[pos] != 0x02:
        raise InvalidSignature("DER signature: expected an INTEGER")
    length = sig[pos + 1]
    pos += 2
    # r and s are below n < 2^256: 33 content bytes at most, in the short length form.
    if length == 0 or length > 33 or end - pos < length:
        raise InvalidSignature("DER signature: bad INTEGER length")
    if sig[pos] & 0x80:
        raise InvalidSignature("DER signature: negative INTEGER")
    if length > 1 and sig[pos] == 0 and not sig[pos + 1] & 0x80:
        raise InvalidSignature("DER signature: INTEGER not minimally encoded")
    value = int.from_bytes(sig[pos : pos + length], "big")
    if not 0 < value < N:
        raise InvalidSignature("signature r or s is out of range [1, n-1]")
    return value, pos + length


def decode_der(sig):
    """(r, s) from a strict DER signature: minimal lengths and integers, nothing trailing."""
    sig = bytes(sig)
    # The largest valid signature is 72 bytes, so the SEQUENCE length is always short form.
    if len(sig) < 8 or sig[0] != 0x30 or sig[1] > 0x7F or sig[1] != len(sig) - 2:
        raise InvalidSignature("DER signature: bad SEQUENCE header")
    r, pos = _read_der_int(sig, 2, len(sig))
    s, pos = _read_der_int(sig, pos, len(sig))
    if pos != len(sig):
        raise InvalidSignature("DER signature: trailing bytes")
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
