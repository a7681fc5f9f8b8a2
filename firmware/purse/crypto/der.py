"""Strict DER encoding of ECDSA signatures, for the crypto API's edge (docs/DESIGN.md section 6):
records carry raw r||s, so cards never load this module; tests and hosts use it for the
Wycheproof vectors and interoperability."""

from purse.crypto.encoding import N
from purse.errors import InvalidSignature


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
