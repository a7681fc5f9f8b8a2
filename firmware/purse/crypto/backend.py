"""The crypto backend interface (docs/DESIGN.md section 9): hash, public key, sign, verify.

The protocol code calls only these four operations. Cards and emulated cards use the pure-Python
P-256 backend of this package; the host and the logger may plug in the pyca/cryptography backend
of the host package. Tests run the same vectors against every backend to prove they agree.

Conventions every backend follows:
- private keys are 32-byte big-endian scalars in [1, n-1]; they never appear in an exception;
- public keys are SEC1 points, 33 bytes compressed (what records carry) or 65 uncompressed;
  a malformed or invalid key raises InvalidKey;
- `sign` hashes the message with SHA-256, uses the RFC 6979 deterministic nonce (mixed with
  RFC 6979 section 3.6 extra entropy when given; a backend that cannot mix extra entropy signs
  with a fresh random nonce instead, which is as safe) and returns raw r||s (64 bytes) with s
  normalised to the low half, as protocol records require;
- `verify` hashes the message with SHA-256 and returns None or raises InvalidSignature; it
  accepts any s in [1, n-1] (generic ECDSA, as Wycheproof expects); the protocol's low-s rule is
  checked by the records layer.
"""

import hashlib

from purse.compat import host_only


class Backend:
    """Base of the backends: SHA-256 is native everywhere, the rest is per backend."""

    name = "abstract"

    @host_only
    def sha256(self, *parts):
        h = hashlib.sha256()
        for part in parts:
            h.update(part)
        return h.digest()

    @host_only
    def public_key(self, private_key):
        """The 33-byte compressed SEC1 public key of a 32-byte private key."""
        raise NotImplementedError

    @host_only
    def sign(self, private_key, message, extra_entropy=None):
        """64-byte raw low-s ECDSA P-256 / SHA-256 signature of `message`."""
        raise NotImplementedError

    @host_only
    def verify(self, public_key, message, signature):
        """Return None if `signature` (64-byte raw r||s) is valid, else raise InvalidSignature."""
        raise NotImplementedError

    # Speed-ups for a slow backend. They change no answer of `verify`, only its cost; a fast
    # backend (pyca on the host) keeps these defaults, which do nothing.

    @host_only
    def trust(self, public_key, table=None):
        """Declare a key the caller verifies again and again (a card's PkT, PkI, PkL), with
        its precomputed table (`table`, from `anchor_table`) or None. Returns whether the
        table was taken: one that does not belong to the key is ignored, never used."""
        return False

    @host_only
    def anchor_table(self, public_key, spans):
        """The precomputed table of `public_key` with `spans` spans, as bytes to keep (8 KiB
        for 16 spans), or None if this backend has no use for one."""
        return None

    @host_only
    def forget_verified(self):
        """Forget every verification the backend remembered (see PureBackend)."""


@host_only
class Signer:
    """A private key held together with the backend that signs with it.

    Records are signed through a Signer, so protocol code never handles the private key itself;
    its repr shows only the public key.
    """

    def __init__(self, backend, private_key):
        self._backend = backend
        self._private_key = bytes(private_key)
        self.public_key = backend.public_key(self._private_key)

    def sign(self, message, extra_entropy=None):
        return self._backend.sign(self._private_key, message, extra_entropy)

    def __repr__(self):
        return "<Signer %s>" % self.public_key.hex()
