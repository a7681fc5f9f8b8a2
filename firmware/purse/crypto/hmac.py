"""HMAC-SHA256 (RFC 2104) over the native hashlib.sha256, and a constant-time comparison.

MicroPython has no hmac module and its hash objects have no .copy(), so each HMAC re-hashes the
padded key; the key pads are computed once per key by `HmacKey` when a caller reuses a key.
"""

import hashlib

from purse.compat import const, host_only

BLOCK = const(64)
DIGEST = const(32)

_IPAD = bytes(0x36 for _ in range(BLOCK))
_OPAD = bytes(0x5C for _ in range(BLOCK))


def _xor(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


class HmacKey:
    """An HMAC-SHA256 key with its inner and outer pads prepared once."""

    def __init__(self, key):
        if len(key) > BLOCK:
            key = hashlib.sha256(key).digest()
        key = bytes(key) + bytes(BLOCK - len(key))
        self._ipad = _xor(key, _IPAD)
        self._opad = _xor(key, _OPAD)

    def mac(self, *parts):
        """HMAC of the concatenation of `parts`, without building the concatenation."""
        inner = hashlib.sha256(self._ipad)
        for part in parts:
            inner.update(part)
        outer = hashlib.sha256(self._opad)
        outer.update(inner.digest())
        return outer.digest()


@host_only
def hmac_sha256(key, *parts):
    """HMAC-SHA256(key, part0 || part1 || ...)."""
    return HmacKey(key).mac(*parts)


def equal(a, b):
    """Compare two byte strings in time that depends only on their lengths.

    Used for every MAC and hash check, so a peer cannot learn how many leading bytes matched.
    """
    if len(a) != len(b):
        return False
    diff = 0
    for x, y in zip(a, b):
        diff |= x ^ y
    return diff == 0
