"""Interoperability of the pure-Python P-256 with pyca/cryptography over random keys and messages.

For each of 200 seeded random keys and messages: pyca verifies our signatures, we verify
pyca's randomised ones, our raw RFC 6979 signature equals pyca's deterministic one, and a
one-bit change in the signature, the message or the public key is rejected by both sides.
"""

import random

import pytest
from cryptography.exceptions import InvalidSignature as PycaInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from purse.crypto import der, ecdsa, encoding, p256
from purse.crypto.pure import PureBackend
from purse.errors import InvalidKey, InvalidSignature

ROUNDS = 200
PURE = PureBackend()
DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
RANDOMISED = ec.ECDSA(hashes.SHA256())


def _flip(data, rng):
    out = bytearray(data)
    bit = rng.randrange(len(out) * 8)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _rejected_by_pure(public_key, message, signature):
    with pytest.raises((InvalidSignature, InvalidKey)):
        PURE.verify(public_key, message, signature)


def _pyca_accepts(public_key, message, signature):
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
        key.verify(encode_dss_signature(r, s), message, RANDOMISED)
    except (PycaInvalidSignature, ValueError):
        return False
    return True


@pytest.mark.parametrize("seed", range(4))
def test_random_interop(seed):
    rng = random.Random(seed)
    for _ in range(ROUNDS // 4):
        d = rng.randrange(1, p256.N)
        private_bytes = d.to_bytes(32, "big")
        message = rng.randbytes(rng.randrange(0, 200))
        pyca_key = ec.derive_private_key(d, ec.SECP256R1())
        public_key = pyca_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.CompressedPoint
        )
        assert PURE.public_key(private_bytes) == public_key

        # Our raw RFC 6979 signature is pyca's deterministic one, s as computed.
        raw = ecdsa.sign(d, message)
        assert raw == decode_dss_signature(pyca_key.sign(message, DETERMINISTIC))

        # pyca verifies ours (the low-s backend form and the raw DER form).
        ours = PURE.sign(private_bytes, message)
        assert ours == encoding.encode_raw(*ecdsa.low_s(*raw))
        assert _pyca_accepts(public_key, message, ours)
        pyca_key.public_key().verify(der.encode_der(*raw), message, RANDOMISED)

        # We verify pyca's randomised signature, given as DER and as raw r||s.
        theirs = pyca_key.sign(message, RANDOMISED)
        r, s = der.decode_der(theirs)
        PURE.verify(public_key, message, encoding.encode_raw(r, s))

        # A one-bit change anywhere is rejected, by us and by pyca.
        for sig in (ours, encoding.encode_raw(r, s)):
            bad_sig = _flip(sig, rng)
            _rejected_by_pure(public_key, message, bad_sig)
            assert not _pyca_accepts(public_key, message, bad_sig)
        bad_message = _flip(message or b"\x00", rng)
        _rejected_by_pure(public_key, bad_message, ours)
        assert not _pyca_accepts(public_key, bad_message, ours)
        bad_key = _flip(public_key, rng)
        _rejected_by_pure(bad_key, message, ours)
        assert not _pyca_accepts(bad_key, message, ours)
        bad_der = _flip(theirs, rng)
        with pytest.raises(InvalidSignature):
            PURE.verify(public_key, message, encoding.encode_raw(*der.decode_der(bad_der)))
