"""Sealing a session token to an operator's public key (ECIES on P-256 with pyca): ephemeral
ECDH, HKDF-SHA256 and AES-256-GCM. The logger seals each new session to the key that signed
the request for it, so a replayed request (to another worker, whose nonce memory is its own)
gets a token only that operator can open."""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"icpurse/session-seal/v1"
_POINT = 33
# Each key encrypts one message only, so a fixed nonce is safe.
_NONCE = bytes(12)


class SealError(ValueError):
    """A sealed value that is not for this key, or damaged."""


def _key(shared, ephemeral, recipient):
    return HKDF(hashes.SHA256(), 32, salt=None, info=_INFO + ephemeral + recipient).derive(shared)


def _public_bytes(public):
    return public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


def seal(recipient, plaintext):
    """`plaintext` sealed to the compressed P-256 public key `recipient`."""
    recipient = bytes(recipient)
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), recipient)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    shared = ephemeral.exchange(ec.ECDH(), point)
    sender = _public_bytes(ephemeral.public_key())
    return sender + AESGCM(_key(shared, sender, recipient)).encrypt(_NONCE, plaintext, None)


def open_sealed(private_key, data):
    """The plaintext of `data` sealed to `private_key` (pyca's P-256 private key object)."""
    data = bytes(data)
    if len(data) < _POINT + 16:
        raise SealError("the sealed session is too short")
    try:
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data[:_POINT])
    except ValueError:
        raise SealError("the sealed session does not start with a P-256 point") from None
    shared = private_key.exchange(ec.ECDH(), sender)
    recipient = _public_bytes(private_key.public_key())
    try:
        return AESGCM(_key(shared, data[:_POINT], recipient)).decrypt(_NONCE, data[_POINT:], None)
    except InvalidTag:
        raise SealError("the sealed session is not for this key, or damaged") from None
