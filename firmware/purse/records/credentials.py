"""The authorities' records: CertT (CA certificate), VoucherI (issuer value voucher), the
issuer's risk parameters and the CA's revocation list."""

from purse import proto, tlv
from purse.compat import host_only
from purse.errors import RecordError
from purse.records import fields as f
from purse.records.signed import Signed, check_public_key


class Certificate(Signed):
    """CertT = SkT(serial, IdU, PkU, not_before, not_after): the CA binds a card id to a key.

    IdU is derived from PkU (fields.card_id), so one key has one id; parsing checks it.
    Validity is in L-time seconds, bounds included.
    """

    TAG = proto.TAG_CERTIFICATE
    DOMAIN = proto.DOMAIN_CERTIFICATE
    FIELDS = (
        (proto.TAG_SERIAL, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_CARD_ID, proto.CARD_ID_SIZE, proto.CARD_ID_SIZE, 0),
        (proto.TAG_PUBLIC_KEY, proto.PUBLIC_KEY_SIZE, proto.PUBLIC_KEY_SIZE, 0),
        (proto.TAG_NOT_BEFORE, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_NOT_AFTER, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(self, serial=0, public_key=None, not_before=0, not_after=0):
        Signed.__init__(self)
        self.serial = serial
        # A record being parsed is built empty first; load() then fills it in.
        self.public_key = None if public_key is None else check_public_key(public_key)
        self.card_id = None if public_key is None else f.card_id(self.public_key)
        self.not_before = not_before
        self.not_after = not_after
        if not_after < not_before:
            raise RecordError("certificate validity ends before it starts")

    @host_only
    def items(self):
        return [
            (proto.TAG_SERIAL, f.u32(self.serial)),
            (proto.TAG_CARD_ID, self.card_id),
            (proto.TAG_PUBLIC_KEY, self.public_key),
            (proto.TAG_NOT_BEFORE, f.u32(self.not_before)),
            (proto.TAG_NOT_AFTER, f.u32(self.not_after)),
        ]

    def load(self, fields, outer):
        self.serial = f.uint(fields[proto.TAG_SERIAL])
        self.public_key = check_public_key(fields[proto.TAG_PUBLIC_KEY])
        self.card_id = bytes(fields[proto.TAG_CARD_ID])
        if self.card_id != f.card_id(self.public_key):
            raise RecordError("Certificate: card id does not belong to the public key")
        self.not_before = f.uint(fields[proto.TAG_NOT_BEFORE])
        self.not_after = f.uint(fields[proto.TAG_NOT_AFTER])
        if self.not_after < self.not_before:
            raise RecordError("Certificate: validity ends before it starts")

    def valid_at(self, ltime):
        return self.not_before <= ltime <= self.not_after


class Voucher(Signed):
    """VoucherI = SkI(log id, PkU, w, sequence, L-time): the issuer's statement that it has
    issued a cumulative amount w to the card with key PkU, whose payments the log `log_id`
    keeps. Each load raises w and the sequence."""

    TAG = proto.TAG_VOUCHER
    DOMAIN = proto.DOMAIN_VOUCHER
    LOGGED = True
    FIELDS = (
        (proto.TAG_PUBLIC_KEY, proto.PUBLIC_KEY_SIZE, proto.PUBLIC_KEY_SIZE, 0),
        (proto.TAG_ISSUED, proto.U64_SIZE, proto.U64_SIZE, 0),
        (proto.TAG_SEQUENCE, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_LTIME, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(self, public_key=None, issued=0, sequence=0, ltime=0, log_id=None):
        Signed.__init__(self)
        self._log_id = log_id
        self.public_key = None if public_key is None else check_public_key(public_key)
        self.issued = issued
        self.sequence = sequence
        self.ltime = ltime

    @host_only
    def items(self):
        return [
            (proto.TAG_PUBLIC_KEY, self.public_key),
            (proto.TAG_ISSUED, f.u64(self.issued)),
            (proto.TAG_SEQUENCE, f.u32(self.sequence)),
            (proto.TAG_LTIME, f.u32(self.ltime)),
        ]

    def load(self, fields, outer):
        self.public_key = check_public_key(fields[proto.TAG_PUBLIC_KEY])
        self.issued = f.uint(fields[proto.TAG_ISSUED])
        self.sequence = f.uint(fields[proto.TAG_SEQUENCE])
        self.ltime = f.uint(fields[proto.TAG_LTIME])


class RiskParameters(Signed):
    """The issuer's limits for every card: balance cap, per-payment cap, most unlogged credit,
    settlement window (L-time seconds) and validity (L-time seconds, bounds included)."""

    TAG = proto.TAG_RISK
    DOMAIN = proto.DOMAIN_RISK
    FIELDS = (
        (proto.TAG_SEQUENCE, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_BALANCE_CAP, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_PAYMENT_CAP, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_UNLOGGED_CAP, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_WINDOW, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_NOT_BEFORE, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_NOT_AFTER, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(
        self,
        sequence=0,
        balance_cap=0,
        payment_cap=0,
        unlogged_cap=0,
        window=0,
        not_before=0,
        not_after=0,
    ):
        Signed.__init__(self)
        self.sequence = sequence
        self.balance_cap = balance_cap
        self.payment_cap = payment_cap
        self.unlogged_cap = unlogged_cap
        self.window = window
        self.not_before = not_before
        self.not_after = not_after

    @host_only
    def items(self):
        return [
            (proto.TAG_SEQUENCE, f.u32(self.sequence)),
            (proto.TAG_BALANCE_CAP, f.u32(self.balance_cap)),
            (proto.TAG_PAYMENT_CAP, f.u32(self.payment_cap)),
            (proto.TAG_UNLOGGED_CAP, f.u32(self.unlogged_cap)),
            (proto.TAG_WINDOW, f.u32(self.window)),
            (proto.TAG_NOT_BEFORE, f.u32(self.not_before)),
            (proto.TAG_NOT_AFTER, f.u32(self.not_after)),
        ]

    def load(self, fields, outer):
        self.sequence = f.uint(fields[proto.TAG_SEQUENCE])
        self.balance_cap = f.uint(fields[proto.TAG_BALANCE_CAP])
        self.payment_cap = f.uint(fields[proto.TAG_PAYMENT_CAP])
        self.unlogged_cap = f.uint(fields[proto.TAG_UNLOGGED_CAP])
        self.window = f.uint(fields[proto.TAG_WINDOW])
        self.not_before = f.uint(fields[proto.TAG_NOT_BEFORE])
        self.not_after = f.uint(fields[proto.TAG_NOT_AFTER])
        if self.not_after < self.not_before:
            raise RecordError("RiskParameters: validity ends before it starts")

    def valid_at(self, ltime):
        return self.not_before <= ltime <= self.not_after


class RevocationList(Signed):
    """The CA's list of revoked card ids, in ascending order, with a sequence number that only
    grows and the L-time of issue. A card installs a list only if its sequence is newer."""

    TAG = proto.TAG_REVOCATION
    DOMAIN = proto.DOMAIN_REVOCATION
    FIELDS = (
        (proto.TAG_SEQUENCE, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_LTIME, proto.U32_SIZE, proto.U32_SIZE, 0),
        (
            proto.TAG_CARD_ID,
            proto.CARD_ID_SIZE,
            proto.CARD_ID_SIZE,
            tlv.REPEATED | tlv.OPTIONAL,
        ),  # An empty list is valid.
    )

    def __init__(self, sequence=0, ltime=0, revoked=()):
        Signed.__init__(self)
        self.sequence = sequence
        self.ltime = ltime
        self.revoked = sorted(bytes(i) for i in revoked)
        self._check()

    def _check(self):
        if len(self.revoked) > proto.MAX_REVOKED:
            raise RecordError("revocation list holds more than %d ids" % proto.MAX_REVOKED)
        for i in range(1, len(self.revoked)):
            if self.revoked[i - 1] >= self.revoked[i]:
                raise RecordError("RevocationList: ids not in strictly ascending order")

    @host_only
    def items(self):
        out = [
            (proto.TAG_SEQUENCE, f.u32(self.sequence)),
            (proto.TAG_LTIME, f.u32(self.ltime)),
        ]
        for card_id in self.revoked:
            out.append((proto.TAG_CARD_ID, card_id))
        return out

    def load(self, fields, outer):
        self.sequence = f.uint(fields[proto.TAG_SEQUENCE])
        self.ltime = f.uint(fields[proto.TAG_LTIME])
        self.revoked = [bytes(v) for v in fields.get(proto.TAG_CARD_ID, ())]
        self._check()

    def is_revoked(self, card_id):
        return bytes(card_id) in self.revoked
