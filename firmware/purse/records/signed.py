"""The common shape of signed records: body, signature, nested records; strict parsing.

    TAG_record {
        TAG_SIGNED { TAG_DOMAIN domain, TAG_VERSION 03, [TAG_LOG_ID log id,] fields... }
        TAG_SIGNATURE r||s
        extra fields (nested records), if the record has any
    }

The records of one log (the logger's, and the issuer's vouchers) name it right after the
version: one field that the base class reads, writes and checks for all of them.

The signature covers the complete encoding of the TAG_SIGNED object (tag and length included).
Because the TLV decoder accepts one encoding only, the bytes a parsed record verifies are the
bytes its signer signed.
"""

from purse import proto, tlv
from purse.compat import const
from purse.crypto import ecdsa
from purse.errors import InvalidSignature, RecordError, TLVError

_HALF_N = ecdsa.N // 2
_VERSION = bytes((proto.VERSION,))
_MAX_DOMAIN = const(32)  # Longest domain-separation string a body may carry.
# The head of every body; the log id is there exactly when the class is LOGGED (from_value
# checks it): one schema for both kinds of record, since a card's heap is small.
_HEAD = (
    (proto.TAG_DOMAIN, 1, _MAX_DOMAIN, 0),
    (proto.TAG_VERSION, 1, 1, 0),
    (proto.TAG_LOG_ID, proto.LOG_ID_SIZE, proto.LOG_ID_SIZE, tlv.OPTIONAL),
)
_MAX_BODY = const(1024)
MAX_NESTED = const(512)  # Bytes of a record nested in another.


def check_low_s(signature):
    """Records require s <= n/2 (docs/DESIGN.md section 6), so a signature has one valid form."""
    if len(signature) != proto.SIGNATURE_SIZE:
        raise InvalidSignature("a record signature is %d bytes" % proto.SIGNATURE_SIZE)
    s = int.from_bytes(bytes(signature[proto.SIGNATURE_SIZE // 2 :]), "big")
    if s == 0 or s > _HALF_N:
        raise InvalidSignature("record signature s is not in the low half")


def check_public_key(key):
    """Records carry 33-byte compressed keys; full point validation happens on verification."""
    if len(key) != proto.PUBLIC_KEY_SIZE or key[0] not in (2, 3):
        raise RecordError("public key is not a 33-byte compressed SEC1 point")
    return bytes(key)


class Signed:
    """Base of the signed records. Subclasses set TAG, DOMAIN, FIELDS and implement
    items() / load(); those with nested records also set EXTRA and implement extra_items().
    A record of one log sets LOGGED, and `_log_id` when it is built (docs/PROTOCOL.md 7.7)."""

    TAG = 0
    DOMAIN = b""
    FIELDS = ()
    EXTRA = ()
    SIGNATURE_FLAGS = 0
    LOGGED = False

    def __init__(self):
        self.body = None
        self.signature = None

    # --- what subclasses provide --------------------------------------------------------------

    def items(self):
        """The body's fields after domain and version, as (tag, bytes), in schema order."""
        return []

    def extra_items(self):
        return []

    def load(self, fields, outer):
        """Set attributes from the decoded body fields and outer fields; check their meaning."""

    # --- building -----------------------------------------------------------------------------

    def signed_bytes(self):
        """The exact bytes the signature covers: the TAG_SIGNED object."""
        if self.body is None:
            head = [(proto.TAG_DOMAIN, self.DOMAIN), (proto.TAG_VERSION, _VERSION)]
            if self.LOGGED:
                # A record of no log is never signed: TLV refuses a missing value.
                head.append((proto.TAG_LOG_ID, self._log_id))
            self.body = tlv.encode(proto.TAG_SIGNED, tlv.encode_all(head + self.items()))
        return self.body

    def sign(self, signer, extra_entropy=None):
        self.body = None
        self.signature = signer.sign(self.signed_bytes(), extra_entropy)
        return self

    def encode_value(self):
        """The record's value without its own tag and length, as a parent record nests it."""
        items = []
        if self.signature is not None:
            items.append((proto.TAG_SIGNATURE, self.signature))
        elif not self.SIGNATURE_FLAGS & tlv.OPTIONAL:
            raise RecordError("record is not signed")
        return self.signed_bytes() + tlv.encode_all(items + self.extra_items())

    def encode(self):
        return tlv.encode(self.TAG, self.encode_value())

    # --- parsing ------------------------------------------------------------------------------

    @classmethod
    def decode(cls, data):
        """Parse a whole encoded record; anything malformed raises RecordError."""
        try:
            _, value = tlv.decode_one(data, cls.TAG)
        except TLVError as exc:
            raise RecordError("%s: %s" % (cls.__name__, exc))
        return cls.from_value(value)

    @classmethod
    def from_value(cls, value):
        schema = (
            (proto.TAG_SIGNED, 1, _MAX_BODY, 0),
            (proto.TAG_SIGNATURE, proto.SIGNATURE_SIZE, proto.SIGNATURE_SIZE, cls.SIGNATURE_FLAGS),
        ) + cls.EXTRA
        try:
            outer = tlv.decode_fields(value, schema)
            fields = tlv.decode_fields(outer[proto.TAG_SIGNED], _HEAD + cls.FIELDS)
        except TLVError as exc:
            raise RecordError("%s: %s" % (cls.__name__, exc))
        if bytes(fields[proto.TAG_DOMAIN]) != cls.DOMAIN:
            raise RecordError(
                "%s: wrong domain %r" % (cls.__name__, bytes(fields[proto.TAG_DOMAIN]))
            )
        if bytes(fields[proto.TAG_VERSION]) != _VERSION:
            raise RecordError(
                "%s: unsupported version %d" % (cls.__name__, fields[proto.TAG_VERSION][0])
            )
        if cls.LOGGED != (proto.TAG_LOG_ID in fields):
            raise RecordError("%s: a log id belongs in the records of a log only" % cls.__name__)
        record = cls()
        record.body = tlv.encode(proto.TAG_SIGNED, outer[proto.TAG_SIGNED])
        sig = outer.get(proto.TAG_SIGNATURE)
        record.signature = None if sig is None else bytes(sig)
        try:
            record.load(fields, outer)
        except TLVError as exc:
            raise RecordError("%s: %s" % (cls.__name__, exc))
        return record

    @property
    def log_id(self):
        """The log id a record of one log names: read from its signed body, or the one it is
        being built with. A parsed record keeps no copy: a card holds several, and its heap is
        small. None for a record of no log."""
        if not self.LOGGED:
            return None
        body = self.body
        if body is None:
            return self._log_id
        # TAG_SIGNED and its length (one to three bytes), the domain, the version (three bytes)
        # and the log id's tag and length: from_value checked that the log id is there.
        n = body[1]
        start = (2 if n < 0x80 else 2 + (n & 0x7F)) + 2 + len(self.DOMAIN) + 5
        return body[start : start + proto.LOG_ID_SIZE]

    # --- verification -------------------------------------------------------------------------

    def verify(self, backend, public_key, log_id=None):
        """Raise InvalidSignature unless signed, low-s, by the key `public_key` and, with
        `log_id`, for that log: a logger that shares a key with another keeps another log, and
        its signature does not vouch for this one's."""
        if self.signature is None:
            raise InvalidSignature("%s is not signed" % self.__class__.__name__)
        check_low_s(self.signature)
        backend.verify(public_key, self.signed_bytes(), self.signature)
        if log_id is not None and self.log_id != log_id:
            raise InvalidSignature("%s of another log" % self.__class__.__name__)
