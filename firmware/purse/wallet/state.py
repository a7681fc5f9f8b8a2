"""The card's durable state: what the file "state" holds, and the blobs it references.

The state is small and rewritten on every commit; records that rarely change or that pile up
(certificate, voucher, risk parameters, revocation list, outbox log records, journalled
payments) live in immutable blob files the state names by number. A commit writes new blobs
first and the state last (purse.store), so a power cut leaves the old state or the new one.
"""

from purse import proto, tlv
from purse.compat import const, host_only
from purse.errors import StoreError, TLVError

# The state file's fields: primitive private-class tags, so that no record field can be mistaken
# for one. Private const() names cost a card nothing at run time: mpy-cross inlines them.
_STATE_VERSION = const(3)  # Layout version of the state payload, first field of the file.
# Layouts 1 and 2 belonged to protocols 1 and 2: their blobs (CertT, VoucherI, risk parameters)
# are records of those versions, which this code refuses, so such a card is refused whole with
# a reason rather than read in part. Layout 2 no longer stores pending challenges (they live
# in RAM); layout 3 adds the id of the card's log, installed with PkL.
_ST_VERSION = const(0xC1)  # u8: STATE_VERSION.
_ST_LIFECYCLE = const(0xC2)  # u8: STATE_FRESH, STATE_KEYED or STATE_READY.
_ST_SECRET = const(0xC3)  # SkU, 32 bytes: never leaves the card.
_ST_SEAL_KEY = const(0xC4)  # K, 32 bytes: never leaves the card.
_ST_PUBLIC_KEY = const(0xC5)  # PkU, 33 bytes.
_ST_ANCHOR_CA = const(0xC6)  # PkT.
_ST_ANCHOR_ISSUER = const(0xC7)  # PkI.
_ST_ANCHOR_LOGGER = const(0xC8)  # PkL.
_ST_BALANCE = const(0xC9)  # u32.
_ST_PAY_COUNTER = const(0xCA)  # ctrA, u32: last payer counter used.
_ST_CHALL_COUNTER = const(0xCB)  # u32: last challenge counter used.
_ST_LTIME = const(0xCC)  # u32: the latest L-time seen.
_ST_NEXT_BLOB = const(0xCD)  # u32: number of the next blob file.
_ST_CERTIFICATE = const(0xCE)  # u32: blob number of CertT(U).
_ST_VOUCHER = const(0xCF)  # u32: blob number of the latest VoucherI(U).
_ST_RISK = const(0xD0)  # u32: blob number of the risk parameters.
_ST_REVOCATION = const(0xD1)  # u32: blob number of the revocation list.
_ST_STAMP = const(0xD5)  # u32: blob number of the newest stamp from L.
_ST_LOG_ID = const(0xD6)  # The log id installed with PkL: the one log the card belongs to.
_ST_OUTBOX = const(0xD3)  # Repeated: blob(4) ChallID(8) x(4) L-time queued(4).
_ST_JOURNAL = const(0xD4)  # Repeated: blob(4) ChallID(8) G1[0:8](8) x(4) ctrA(4).

_U32 = proto.U32_SIZE
# An outbox entry, blob || ChallID || x || L-time, and a journal entry, blob || ChallID ||
# G1 prefix || x || ctrA: the G1 prefix tells two challenges of one ChallID apart cheaply.
G1_PREFIX_SIZE = const(8)
_OUTBOX_ENTRY = 3 * _U32 + proto.CHALL_ID_SIZE
_JOURNAL_ENTRY = 3 * _U32 + proto.CHALL_ID_SIZE + G1_PREFIX_SIZE
_OPT = tlv.OPTIONAL
_LIST = tlv.OPTIONAL | tlv.REPEATED

# Flags byte of a pending challenge: the seal mode in the low bits, and whether ACCEPT must
# come with a ready-ticket (embodiment 2).
PENDING_MODE_MASK = const(0x07)
PENDING_NEEDS_TICKET = const(0x80)

_SCHEMA = (
    (_ST_VERSION, 1, 1, 0),
    (_ST_LIFECYCLE, 1, 1, 0),
    (_ST_SECRET, 32, 32, _OPT),
    (_ST_SEAL_KEY, 32, 32, _OPT),
    (_ST_PUBLIC_KEY, proto.PUBLIC_KEY_SIZE, proto.PUBLIC_KEY_SIZE, _OPT),
    (_ST_ANCHOR_CA, proto.PUBLIC_KEY_SIZE, proto.PUBLIC_KEY_SIZE, _OPT),
    (_ST_ANCHOR_ISSUER, proto.PUBLIC_KEY_SIZE, proto.PUBLIC_KEY_SIZE, _OPT),
    (_ST_ANCHOR_LOGGER, proto.PUBLIC_KEY_SIZE, proto.PUBLIC_KEY_SIZE, _OPT),
    (_ST_LOG_ID, proto.LOG_ID_SIZE, proto.LOG_ID_SIZE, _OPT),
    (_ST_BALANCE, _U32, _U32, 0),
    (_ST_PAY_COUNTER, _U32, _U32, 0),
    (_ST_CHALL_COUNTER, _U32, _U32, 0),
    (_ST_LTIME, _U32, _U32, 0),
    (_ST_NEXT_BLOB, _U32, _U32, 0),
    (_ST_CERTIFICATE, _U32, _U32, _OPT),
    (_ST_VOUCHER, _U32, _U32, _OPT),
    (_ST_RISK, _U32, _U32, _OPT),
    (_ST_REVOCATION, _U32, _U32, _OPT),
    (_ST_STAMP, _U32, _U32, _OPT),
    (_ST_OUTBOX, _OUTBOX_ENTRY, _OUTBOX_ENTRY, _LIST),
    (_ST_JOURNAL, _JOURNAL_ENTRY, _JOURNAL_ENTRY, _LIST),
)

# Optional fields of fixed size (keys and the log id), by attribute name.
_KEYS = (
    (_ST_SECRET, "secret"),
    (_ST_SEAL_KEY, "seal_key"),
    (_ST_PUBLIC_KEY, "public_key"),
    (_ST_ANCHOR_CA, "ca_key"),
    (_ST_ANCHOR_ISSUER, "issuer_key"),
    (_ST_ANCHOR_LOGGER, "logger_key"),
    (_ST_LOG_ID, "log_id"),
)
_COUNTERS = (
    (_ST_BALANCE, "balance"),
    (_ST_PAY_COUNTER, "pay_counter"),
    (_ST_CHALL_COUNTER, "chall_counter"),
    (_ST_LTIME, "ltime"),
    (_ST_NEXT_BLOB, "next_blob"),
)
# Blob references: state attribute, tag, and the letter that starts the blob's file name.
_BLOBS = (
    (_ST_CERTIFICATE, "certificate_blob", "c"),
    (_ST_VOUCHER, "voucher_blob", "v"),
    (_ST_RISK, "risk_blob", "r"),
    (_ST_REVOCATION, "revocation_blob", "x"),
    (_ST_STAMP, "stamp_blob", "s"),
)


def _max_encoded():
    # The lists are bounded by the protocol's limits; every other field appears at most once.
    counts = {
        _ST_OUTBOX: proto.OUTBOX_MAX,
        _ST_JOURNAL: proto.JOURNAL_MAX,
    }
    total = 0
    for tag, _, most, _ in _SCHEMA:
        total += counts.get(tag, 1) * tlv.encoded_size(tag, most)
    return total


# The largest state payload: what a card's store reserves at boot for its commits.
MAX_ENCODED = _max_encoded()


def blob_name(letter, number):
    return "%s%d" % (letter, number)


def _u32(data, pos=0):
    return tlv.uint(data[pos : pos + _U32])


class Pending:
    """A challenge waiting for its payment, in RAM only. In the encrypted mode only ChallID
    is kept; `made` is the card's running clock (Card.clock) when the challenge was made."""

    def __init__(self, chall_id, flags, made, r1=None, r2=None, x=0):
        self.chall_id = chall_id
        self.flags = flags
        self.made = made
        self.r1 = r1
        self.r2 = r2
        self.x = x

    @property
    def mode(self):
        return self.flags & PENDING_MODE_MASK


class OutboxEntry:
    """A log record waiting for the logger's receipt; the record itself is blob o<number>."""

    def __init__(self, blob, chall_id, x, ltime):
        self.blob = blob
        self.chall_id = chall_id
        self.x = x
        self.ltime = ltime

    @property
    def name(self):
        return blob_name("o", self.blob)

    def encode(self):
        return tlv.u32(self.blob) + self.chall_id + tlv.u32(self.x) + tlv.u32(self.ltime)

    @classmethod
    def decode(cls, data):
        data = bytes(data)
        c = _U32 + proto.CHALL_ID_SIZE
        return cls(_u32(data), data[_U32:c], _u32(data, c), _u32(data, c + _U32))


class JournalEntry:
    """A payment this card signed; the whole payment is blob j<number>."""

    def __init__(self, blob, chall_id, g1_prefix, x, counter):
        self.blob = blob
        self.chall_id = chall_id
        self.g1_prefix = g1_prefix
        self.x = x
        self.counter = counter

    @property
    def name(self):
        return blob_name("j", self.blob)

    def encode(self):
        return (
            tlv.u32(self.blob)
            + self.chall_id
            + self.g1_prefix
            + tlv.u32(self.x)
            + tlv.u32(self.counter)
        )

    @classmethod
    def decode(cls, data):
        data = bytes(data)
        c = _U32 + proto.CHALL_ID_SIZE
        g = c + G1_PREFIX_SIZE
        return cls(_u32(data), data[_U32:c], data[c:g], _u32(data, g), _u32(data, g + _U32))


class CardState:
    """The decoded state; `encode()` gives the payload the store commits."""

    def __init__(self):
        self.lifecycle = proto.STATE_FRESH
        for _, attr in _KEYS:
            setattr(self, attr, None)
        for _, attr in _COUNTERS:
            setattr(self, attr, 0)
        for _, attr, _ in _BLOBS:
            setattr(self, attr, None)
        self.outbox = []
        self.journal = []

    def copy(self):
        """An independent copy, so a command can build the next state and drop it on refusal."""
        other = CardState()
        other.lifecycle = self.lifecycle
        for _, attr in _KEYS + _COUNTERS:
            setattr(other, attr, getattr(self, attr))
        for _, attr, _ in _BLOBS:
            setattr(other, attr, getattr(self, attr))
        # Entries are never changed in place, so copying the lists is enough.
        other.outbox = list(self.outbox)
        other.journal = list(self.journal)
        return other

    def take_blob_number(self):
        number = self.next_blob
        self.next_blob += 1
        return number

    def referenced(self):
        """The names of every blob file this state refers to."""
        names = []
        for _, attr, letter in _BLOBS:
            number = getattr(self, attr)
            if number is not None:
                names.append(blob_name(letter, number))
        for entry in self.outbox:
            names.append(entry.name)
        for entry in self.journal:
            names.append(entry.name)
        return names

    def unlogged_credit(self):
        total = 0
        for entry in self.outbox:
            total += entry.x
        return total

    def _items(self):
        """The (tag, value) pairs of the state, made one at a time: no list of them is built."""
        yield _ST_VERSION, bytes((_STATE_VERSION,))
        yield _ST_LIFECYCLE, bytes((self.lifecycle,))
        for tag, attr in _KEYS:
            value = getattr(self, attr)
            if value is not None:
                yield tag, value
        for tag, attr in _COUNTERS:
            yield tag, tlv.u32(getattr(self, attr))
        for tag, attr, _ in _BLOBS:
            value = getattr(self, attr)
            if value is not None:
                yield tag, tlv.u32(value)
        for entry in self.outbox:
            yield _ST_OUTBOX, entry.encode()
        for entry in self.journal:
            yield _ST_JOURNAL, entry.encode()

    @host_only
    def encode(self):
        return tlv.encode_all(self._items())

    def encoded_size(self):
        size = 0
        for tag, value in self._items():
            size += tlv.encoded_size(tag, len(value))
        return size

    def encode_into(self, buf, pos):
        """Write encode() into the bytearray `buf` from `pos`; return the end (purse.store)."""
        for tag, value in self._items():
            pos = tlv.write(buf, pos, tag, value)
        return pos

    @classmethod
    def decode(cls, payload):
        try:
            fields = tlv.decode_fields(payload, _SCHEMA)
        except TLVError as exc:
            raise StoreError("card state: %s" % exc)
        version = fields[_ST_VERSION][0]
        if version != _STATE_VERSION:
            # Layouts 1 and 2 were protocols 1 and 2's; a newer one is a newer firmware's.
            raise StoreError(
                "card state layout %d is not this firmware's %d: flash the card again and"
                " provision it" % (version, _STATE_VERSION)
            )
        state = cls()
        state.lifecycle = fields[_ST_LIFECYCLE][0]
        if state.lifecycle not in (proto.STATE_FRESH, proto.STATE_KEYED, proto.STATE_READY):
            raise StoreError("card state: unknown life-cycle state %d" % state.lifecycle)
        for tag, attr in _KEYS:
            value = fields.get(tag)
            setattr(state, attr, None if value is None else bytes(value))
        for tag, attr in _COUNTERS:
            setattr(state, attr, _u32(fields[tag]))
        for tag, attr, _ in _BLOBS:
            value = fields.get(tag)
            setattr(state, attr, None if value is None else _u32(value))
        state.outbox = [OutboxEntry.decode(v) for v in fields.get(_ST_OUTBOX, ())]
        state.journal = [JournalEntry.decode(v) for v in fields.get(_ST_JOURNAL, ())]
        return state
