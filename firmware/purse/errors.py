"""The core's small, flat exception family.

Every error the core raises derives from PurseError. Only the applet's dispatcher turns an
exception into a status word; messages name what was wrong with the input and never carry key
material or secret values.
"""


class PurseError(Exception):
    """Base class of every error raised by the portable core."""


class TLVError(PurseError):
    """A BER-TLV encoding is malformed or does not match the record's schema."""


class APDUError(PurseError):
    """An ISO 7816-4 command or response APDU is malformed or breaks the size rules."""


class FrameError(PurseError):
    """A serial-link frame is malformed: bad COBS, bad CRC, wrong size or unknown type."""


class CryptoError(PurseError):
    """Base of the cryptographic errors; the peer sees all of them as one status word."""


class InvalidSignature(CryptoError):
    """A signature does not verify, or is not encoded as the caller requires."""


class InvalidKey(CryptoError):
    """A public or private key is malformed or fails validation."""


class SealError(CryptoError):
    """A sealed challenge does not open: it was altered, truncated or sealed under another key."""


class RecordError(PurseError):
    """A protocol record is malformed: wrong tag, domain, version, field or size."""


class CredentialError(CryptoError):
    """A credential is genuine but not acceptable here: a voucher for another card, a
    certificate outside its validity, a revoked card. The peer sees it as any crypto failure."""
