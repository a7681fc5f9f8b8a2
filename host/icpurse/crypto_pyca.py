"""The pyca/cryptography crypto backend: P-256 ECDSA / SHA-256 through OpenSSL, for the host.

It implements purse.crypto.backend.Backend exactly as that module's docstring states, so the
host and the logger get the same answers as cards, only faster; the cross-checks against the
pure-Python backend are tests/host's interop tests. Keys and signatures cross this boundary in
the protocol's encodings (32-byte scalars, SEC1 points, 64-byte raw r||s); DER exists only
inside this module, where pyca needs it.

Error messages name what was wrong with an input (its length, its range, that a check failed)
and never include a key, a scalar or a signature value.
"""

from cryptography.exceptions import InvalidSignature as _PycaInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from purse.crypto.backend import Backend
from purse.errors import InvalidKey, InvalidSignature

# Field prime and group order of P-256 (SEC 2 v2, section 2.4.2; FIPS 186-5 / SP 800-186).
P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
HALF_N = N // 2

_CURVE = ec.SECP256R1()
# The algorithm objects are immutable; made once, not for every signature (the logger makes
# thousands a second).
_ECDSA_SHA256_RFC6979 = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def _private_key(private_key):
    """Load a 32-byte big-endian scalar in [1, n-1] as a pyca private key, or raise InvalidKey."""
    if not isinstance(private_key, bytes | bytearray | memoryview) or len(private_key) != 32:
        raise InvalidKey("private key must be 32 bytes")
    d = int.from_bytes(private_key, "big")
    if not 1 <= d < N:
        raise InvalidKey("private key is out of range [1, n-1]")
    return ec.derive_private_key(d, _CURVE)


def _public_key(public_key):
    """Load a SEC1 point (33 bytes compressed or 65 uncompressed) or raise InvalidKey.

    The length, the prefix byte and each coordinate's range are checked here so the rule does
    not depend on what one OpenSSL release accepts; OpenSSL then checks the curve equation.
    """
    if not isinstance(public_key, bytes | bytearray | memoryview):
        raise InvalidKey("public key must be bytes")
    data = bytes(public_key)
    if len(data) == 33:
        if data[0] not in (2, 3):
            raise InvalidKey("compressed public key must start with 02 or 03")
    elif len(data) == 65:
        if data[0] != 4:
            raise InvalidKey("uncompressed public key must start with 04")
        if int.from_bytes(data[33:], "big") >= P:
            raise InvalidKey("public key coordinate out of range")
    else:
        raise InvalidKey("public key must be 33 or 65 bytes")
    if int.from_bytes(data[1:33], "big") >= P:
        raise InvalidKey("public key coordinate out of range")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, data)
    except ValueError:
        raise InvalidKey("public key is not a point of P-256")


# Loading a key costs a point decompression or a scalar multiplication, more than a verify;
# the logger sees the same payer keys and signs with one key, so loaded keys are kept.
_CACHE_LIMIT = 4096


class PycaBackend(Backend):
    """P-256 ECDSA / SHA-256 on pyca/cryptography (OpenSSL); SHA-256 from the base class."""

    name = "pyca"

    def __init__(self):
        self._public = {}
        self._private = {}

    def __getstate__(self):
        # Loaded keys cannot be pickled: a backend sent to a worker process starts empty.
        return {}

    def __setstate__(self, state):
        self.__init__()

    def _load(self, cache, loader, key_bytes):
        key_bytes = bytes(key_bytes)
        loaded = cache.get(key_bytes)
        if loaded is None:
            loaded = loader(key_bytes)
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key_bytes] = loaded
        return loaded

    def public_key(self, private_key):
        """The 33-byte compressed SEC1 public key of a 32-byte private key."""
        return (
            _private_key(private_key)
            .public_key()
            .public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
        )

    def sign(self, private_key, message, extra_entropy=None):
        """64-byte raw low-s ECDSA P-256 / SHA-256 signature of `message`.

        Without extra entropy the nonce is RFC 6979's deterministic one. pyca cannot mix
        RFC 6979 section 3.6 extra entropy into it, so when a caller asks for entropy this
        backend signs with OpenSSL's fresh random nonce instead, which the interface allows.
        """
        key = self._load(self._private, _private_key, private_key)
        algorithm = _ECDSA_SHA256_RFC6979 if extra_entropy is None else _ECDSA_SHA256
        r, s = decode_dss_signature(key.sign(bytes(message), algorithm))
        # Records require the low-s form; (r, n - s) is the same signature's other encoding.
        if s > HALF_N:
            s = N - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, public_key, message, signature):
        """Return None if `signature` (64-byte raw r||s) is valid, else raise InvalidSignature.

        A malformed public key raises InvalidKey. Any s in [1, n-1] is accepted: the low-s rule
        belongs to the records layer.
        """
        if not isinstance(public_key, bytes | bytearray | memoryview):
            raise InvalidKey("public key must be bytes")
        key = self._load(self._public, _public_key, public_key)
        if not isinstance(signature, bytes | bytearray | memoryview) or len(signature) != 64:
            raise InvalidSignature("signature must be 64 bytes")
        sig = bytes(signature)
        r = int.from_bytes(sig[:32], "big")
        s = int.from_bytes(sig[32:], "big")
        if not (1 <= r < N and 1 <= s < N):
            raise InvalidSignature("signature r or s is out of range [1, n-1]")
        try:
            key.verify(encode_dss_signature(r, s), bytes(message), _ECDSA_SHA256)
        except _PycaInvalidSignature:
            raise InvalidSignature("signature does not verify")
