"""The core's small, flat exception family.

Every error the core raises derives from PurseError, the terminal's CardError and CardReset
(purse.client) included: a caller that catches PurseError after them, as the CLI does, keeps
its answer for each. Only the applet's dispatcher turns an
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


class Refusal(PurseError):
    """A user-facing refusal of the card: each subclass has its own status word (the applet's
    dispatcher holds the table). A refusal leaves the card's stored state unchanged."""


class InsufficientFunds(Refusal):
    """The balance does not cover the amount."""


class LimitExceeded(Refusal):
    """A risk parameter forbids it: payment cap, balance cap or unlogged-credit cap."""


class UnknownChallenge(Refusal):
    """The ChallID is not pending: never made here, expired by count, or already used."""


class MustSync(Refusal):
    """The card must see the logger first: an outbox entry is older than the settlement
    window, or its risk parameters are not valid at its L-time."""


class TicketRefused(Refusal):
    """Embodiment 2: the ready-ticket is missing, stale, or binds another nonce."""


class Declined(Refusal):
    """The holder did not confirm the payment."""


class JournalFull(Refusal):
    """The journal holds as many payments as the logger has not acknowledged as it may: the
    card pays again only after a sync (the stamp drops what the logger holds)."""


class StalePayer(Refusal):
    """The payer's stamp is older than the settlement window: it must sync before it pays."""


class Revoked(Refusal):
    """The peer's certificate is on the card's revocation list."""


class WrongState(Refusal):
    """The command is out of order or the card lacks what it needs (no key, no voucher...)."""


class Locked(Refusal):
    """Personalisation is locked: provisioning commands are refused for good."""


class NotFound(Refusal):
    """No such outbox or journal entry, or no entry matches a receipt."""


class StoreFull(Refusal):
    """The card has no room for another pending challenge or outbox entry."""


class StoreError(PurseError):
    """The card's stored state is corrupt, truncated, or of an unknown format version."""
