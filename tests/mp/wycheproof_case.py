"""One Wycheproof ECDSA case against a backend; shared by CPython and MicroPython.

`check` returns "valid" when the signature verifies and "invalid" when the documented error
(InvalidSignature for the signature, InvalidKey for the key) rejects it; any other exception
propagates, so the caller reports it as a crash.
"""

from purse.crypto import der, encoding
from purse.errors import InvalidKey, InvalidSignature


def check(backend, kind, public_key, message, signature):
    """kind is "D" for a DER signature (decoded strictly first) or "R" for raw r||s."""
    try:
        if kind == "D":
            r, s = der.decode_der(signature)
            signature = encoding.encode_raw(r, s)
        backend.verify(public_key, message, signature)
    except (InvalidSignature, InvalidKey):
        return "invalid"
    return "valid"
