"""The pure-Python crypto backend: P-256 ECDSA / SHA-256 that runs on cards and on CPython.

It implements purse.crypto.backend.Backend exactly as that module's docstring states. Keys a
card verifies again and again (PkT, PkI, PkL) can be given a precomputed table with
`precompute`, which makes each later verification against them about twice as fast.
"""

from purse.crypto import ecdsa, encoding
from purse.crypto.backend import Backend
from purse.errors import InvalidKey


def _scalar(private_key):
    if len(private_key) != 32:
        raise InvalidKey("private key must be 32 bytes")
    d = int.from_bytes(private_key, "big")
    if not 0 < d < ecdsa.N:
        raise InvalidKey("private key is out of range [1, n-1]")
    return d


class PureBackend(Backend):
    """P-256 ECDSA / SHA-256 in pure Python (purse.crypto.ecdsa); SHA-256 from the base class."""

    name = "pure"

    def __init__(self):
        # Encoded public key (as the caller gives it, and in both SEC1 forms) -> PublicKey.
        self._keys = {}

    def public_key(self, private_key):
        """The 33-byte compressed SEC1 public key of a 32-byte private key."""
        x, y = ecdsa.public_point(_scalar(private_key))
        return encoding.encode_point(x, y)

    def sign(self, private_key, message, extra_entropy=None):
        """64-byte raw low-s ECDSA P-256 / SHA-256 signature of `message`.

        The nonce is RFC 6979's, mixed with `extra_entropy` as its section 3.6 describes.
        """
        r, s = ecdsa.sign(_scalar(private_key), message, extra_entropy)
        r, s = ecdsa.low_s(r, s)
        return encoding.encode_raw(r, s)

    def verify(self, public_key, message, signature):
        """Return None if `signature` (64-byte raw r||s) is valid, else raise InvalidSignature.

        A malformed or invalid public key raises InvalidKey. Any s in [1, n-1] is accepted.
        """
        key = self._keys.get(bytes(public_key))
        if key is None:
            key = ecdsa.PublicKey(*encoding.decode_point(public_key))
        r, s = encoding.decode_raw(signature)
        ecdsa.verify(key, message, r, s)

    def precompute(self, public_key, spans=16):
        """Keep a precomputed table for a key verified again and again; returns its size.

        The default 16 spans take 8 KiB per key; 8 spans take 4 KiB and a few more operations.
        """
        x, y = encoding.decode_point(public_key)
        key = ecdsa.PublicKey(x, y).precompute(spans)
        self._keys[encoding.encode_point(x, y, True)] = key
        self._keys[encoding.encode_point(x, y, False)] = key
        return key.table.nbytes()

    def forget(self, public_key):
        """Drop the table of a key (after a key rollover), freeing its memory."""
        x, y = encoding.decode_point(public_key)
        self._keys.pop(encoding.encode_point(x, y, True), None)
        self._keys.pop(encoding.encode_point(x, y, False), None)
