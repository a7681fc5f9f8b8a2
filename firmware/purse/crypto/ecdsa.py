"""ECDSA over P-256: key generation, RFC 6979 signing, low-s normalisation and verification.

This is the hazardous layer: scalars and points are Python integers and tuples, and the
caller hashes. The backend (purse.crypto.pure) wraps it in the byte-level interface the
protocol uses. Rejections raise InvalidSignature or InvalidKey; they never return False.

The signer returns RFC 6979's (r, s) as computed, so the RFC's vectors are reproduced exactly;
`low_s` gives the form protocol records require. Verification accepts any s in [1, n-1].
See purse.crypto.scalarmul for the side-channel properties of the signing multiplication.
"""

import hashlib

from purse.crypto import p256, scalarmul, tables
from purse.crypto.hmac import HmacKey
from purse.errors import InvalidKey, InvalidSignature

N = p256.N


def _bits2int(digest):
    """RFC 6979 section 2.3.2 for qlen = 256: the leftmost 256 bits of the digest."""
    if len(digest) > 32:
        digest = digest[:32]
    return int.from_bytes(digest, "big")


def public_point(d):
    """The affine public point d*G of a private scalar 1 <= d < n."""
    if not 0 < d < N:
        raise InvalidKey("private key is out of range [1, n-1]")
    return scalarmul.comb_mul(tables.generator_comb(), d)


def generate_private(entropy):
    """A private scalar in [1, n-1] derived from at least 32 bytes of caller-supplied entropy.

    Candidates are SHA-256(entropy || counter), rejected until one falls in range, so the
    result is uniform if the entropy is; the caller gathers it (the core reads no RNG).
    """
    if len(entropy) < 32:
        raise ValueError("key generation needs at least 32 bytes of entropy")
    counter = 0
    while True:
        h = hashlib.sha256(entropy)
        h.update(bytes((counter,)))
        d = int.from_bytes(h.digest(), "big")
        if 0 < d < N:
            return d
        counter += 1


def _nonces(d, digest, extra_entropy):
    """RFC 6979 section 3.2 candidates k for HMAC-SHA256, with section 3.6's extra data."""
    x = d.to_bytes(32, "big")
    h1 = (_bits2int(digest) % N).to_bytes(32, "big")
    extra = extra_entropy or b""
    v = b"\x01" * 32
    key = HmacKey(b"\x00" * 32)
    key = HmacKey(key.mac(v, b"\x00", x, h1, extra))
    v = key.mac(v)
    key = HmacKey(key.mac(v, b"\x01", x, h1, extra))
    v = key.mac(v)
    while True:
        v = key.mac(v)
        k = int.from_bytes(v, "big")
        if 0 < k < N:
            yield k
        key = HmacKey(key.mac(v, b"\x00"))
        v = key.mac(v)


def sign_digest(d, digest, extra_entropy=None):
    """RFC 6979 ECDSA signature (r, s) of a digest, s as computed (possibly high).

    The inversion of k is blinded by a factor derived from k itself, so the variable-time
    Euclid sees k * b rather than k.
    """
    if not 0 < d < N:
        raise InvalidKey("private key is out of range [1, n-1]")
    z = _bits2int(digest)
    comb = tables.generator_comb()
    for k in _nonces(d, digest, extra_entropy):
        r = scalarmul.comb_mul(comb, k)[0] % N
        if r == 0:
            continue
        blind = _bits2int(hashlib.sha256(k.to_bytes(32, "big") + b"blind").digest()) % N or 1
        k_inv = p256.nmul(p256.inverse(p256.nmul(k, blind), N), blind)
        s = p256.nmul(k_inv, z + p256.nmul(r, d))
        if s != 0:
            return r, s
    return None  # Unreachable: the nonce generator never ends.


def low_s(r, s):
    """The low-s form (r, min(s, n - s)) that protocol records require."""
    if s > p256.HALF_N:
        s = N - s
    return r, s


class PublicKey:
    """A validated public point, with an optional precomputed table for repeated verification."""

    def __init__(self, x, y, table=None):
        self.x = x
        self.y = y
        self.table = table

    def precompute(self, spans=tables.COMB_SPANS):
        """Build the per-key table (8 KiB with the default 16 spans) and keep it."""
        self.table = tables.build(self.x, self.y, spans, tables.KEY_WIDTH)
        return self


def verify_digest(key, digest, r, s):
    """Return None if (r, s) signs the digest under `key` (a PublicKey), else raise.

    Raises InvalidSignature; any s in [1, n-1] is accepted.
    """
    if not (0 < r < N and 0 < s < N):
        raise InvalidSignature("signature r or s is out of range [1, n-1]")
    w = p256.inverse(s, N)
    u1 = p256.nmul(_bits2int(digest), w)
    u2 = p256.nmul(r, w)
    if key.table is not None:
        acc = scalarmul.straus(tables.generator_comb(), u1, key.table, u2)
    else:
        own = tables.build(key.x, key.y, 1, tables.unknown_key_width())
        acc = scalarmul.straus(tables.generator_wnaf(), u1, own, u2)
    x, _, z = acc
    if z == 0:
        raise InvalidSignature("signature does not verify")
    # x(R) mod n == r without an inversion: X == r * Z^2, or (r + n) * Z^2 when r + n < p.
    z2 = p256.fmul(z, z)
    if x == p256.fmul(r, z2):
        return
    if r + N < p256.P and x == p256.fmul(r + N, z2):
        return
    raise InvalidSignature("signature does not verify")


def sign(d, message, extra_entropy=None):
    """sign_digest over SHA-256(message)."""
    return sign_digest(d, hashlib.sha256(message).digest(), extra_entropy)


def verify(key, message, r, s):
    """verify_digest over SHA-256(message)."""
    verify_digest(key, hashlib.sha256(message).digest(), r, s)
