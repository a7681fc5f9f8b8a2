"""B's transfer log record for the logger L: (IdUB, R1, G2, x, ChallID, ctrA, S, CertT(A),
VoucherI(A), CertT(B), B's signature) and, from a tap, the round-trip time. Apart from
purse.records.transfer so that a card that only pays never loads it."""

from purse import proto, tlv
from purse.compat import host_only
from purse.errors import CredentialError, RecordError, TLVError
from purse.records import fields as f
from purse.records.credentials import Certificate, Voucher
from purse.records.signed import MAX_NESTED, check_low_s
from purse.records.transfer import Payment

_OPT = tlv.OPTIONAL


class LogRecord:
    """What B sends L: (IdUB, R1, G2, x, ChallID, ctrA, S, CertT(A), VoucherI(A), CertT(B),
    SB) and, from a tap, the round-trip time. L recomputes G1 = H(IdUB, R1) and checks S, which
    binds the payment to B's id, and SB, B's signature over H(record) made in ACCEPT: L credits
    only a payment a recipient card accepted, and knows which one it accepted. H(record)
    (fields.record_hash) names the record in receipts."""

    TAG = proto.TAG_LOG_RECORD

    def __init__(self, recipient_id=None, r1=None, payment=None, rtt=None):
        self.recipient_id = recipient_id
        self.r1 = r1
        self.payment = payment
        self.rtt = rtt
        self.certificate = None  # CertT(B).
        self.signature = None  # SB, over DOMAIN_RECORD_SIGNATURE || H(record).

    @host_only
    def g1(self):
        return f.g1(self.recipient_id, self.r1)

    @host_only
    def identity(self):
        return self.payment.identity()

    @host_only
    def encode(self):
        return tlv.encode_all(self._items(), self.TAG)

    def encoded_size(self):
        """encode()'s length: with encode_into, the store frames the record in the buffer it
        keeps for commits (purse.store), and ACCEPT, which ends in the most fragmented heap
        of a transfer, asks for no block of the record's size."""
        n = 0
        for tag, value in self._items():
            n += tlv.encoded_size(tag, len(value))
        return tlv.encoded_size(self.TAG, n)

    def encode_into(self, buf, pos):
        """Write encode() into the bytearray `buf` from `pos`; return the end."""
        items = self._items()
        n = 0
        for tag, value in items:
            n += tlv.encoded_size(tag, len(value))
        pos = tlv.write(buf, pos, self.TAG, None, n)
        for tag, value in items:
            pos = tlv.write(buf, pos, tag, value)
        return pos

    def _items(self):
        p = self.payment
        items = [
            (proto.TAG_VERSION, bytes((proto.VERSION,))),
            (proto.TAG_CARD_ID, self.recipient_id),
            (proto.TAG_R1, self.r1),
            (proto.TAG_G2, p.g2),
            (proto.TAG_AMOUNT, f.amount(p.x)),
            (proto.TAG_CHALL_ID, p.chall_id),
            (proto.TAG_COUNTER, f.u32(p.counter)),
            (proto.TAG_SIGNATURE, p.signature),
            (proto.TAG_CERTIFICATE, p.certificate.encode_value()),
            (proto.TAG_VOUCHER, p.voucher.encode_value()),
        ]
        if self.certificate is None or self.signature is None:
            raise RecordError("LogRecord: not signed by its recipient")
        items.append((proto.TAG_RECIPIENT, self.certificate.encode_value()))
        items.append((proto.TAG_RECIPIENT_SIGNATURE, self.signature))
        if self.rtt is not None:
            items.append((proto.TAG_RTT, f.u32(self.rtt)))
        return items

    def sign(self, signer, certificate, extra_entropy=None):
        """B's signature, with the key `certificate` certifies (the card's own, in ACCEPT)."""
        self.certificate = certificate
        self.signature = signer.sign(proto.DOMAIN_RECORD_SIGNATURE + self.hash(), extra_entropy)
        return self

    def hash(self):
        p = self.payment
        return f.record_hash(
            self.recipient_id, self.r1, p.g2, p.x, p.chall_id, p.counter, p.payer_key
        )

    @host_only
    @classmethod
    def decode(cls, data, parsed=None):
        """Parse a log record. `parsed`, a dict the caller keeps, reuses the CertT(A) and
        VoucherI(A) already parsed from identical bytes (the logger sees each payer's again
        and again); records parsed from it are shared, so callers must not change them."""
        try:
            _, value = tlv.decode_one(data, cls.TAG)
            fields = tlv.decode_fields(value, _schema())
        except TLVError as exc:
            raise RecordError("LogRecord: %s" % exc)
        if fields[proto.TAG_VERSION][0] != proto.VERSION:
            raise RecordError("LogRecord: unsupported version %d" % fields[proto.TAG_VERSION][0])
        rec = cls(bytes(fields[proto.TAG_CARD_ID]), bytes(fields[proto.TAG_R1]))
        rtt = fields.get(proto.TAG_RTT)
        rec.rtt = None if rtt is None else f.uint(rtt)
        pay = Payment(
            f.uint(fields[proto.TAG_AMOUNT]),
            rec.g1(),
            bytes(fields[proto.TAG_G2]),
            bytes(fields[proto.TAG_CHALL_ID]),
            f.uint(fields[proto.TAG_COUNTER]),
        )
        if pay.x < 1:
            raise RecordError("LogRecord: amount must be at least 1")
        pay.signature = bytes(fields[proto.TAG_SIGNATURE])
        pay.certificate = _nested(Certificate, fields[proto.TAG_CERTIFICATE], parsed)
        pay.voucher = _nested(Voucher, fields[proto.TAG_VOUCHER], parsed)
        rec.payment = pay
        rec.certificate = _nested(Certificate, fields[proto.TAG_RECIPIENT], parsed)
        rec.signature = bytes(fields[proto.TAG_RECIPIENT_SIGNATURE])
        return rec

    @host_only
    def verify_recipient(self, backend):
        """SB with the key of CertT(B), which must be IdUB's (CertT(B) itself is checked with
        PkT by the caller, once per certificate)."""
        if self.certificate.card_id != self.recipient_id:
            raise CredentialError("the recipient's certificate is for another card")
        check_low_s(self.signature)
        message = proto.DOMAIN_RECORD_SIGNATURE + self.hash()
        backend.verify(self.certificate.public_key, message, self.signature)

    @host_only
    def verify(self, backend, ca_key, issuer_key):
        """L's check: CertT(A), VoucherI(A) and S, with G1 recomputed from IdUB and R1, then
        CertT(B) and SB."""
        self.payment.verify_chain(backend, ca_key, issuer_key)
        self.certificate.verify(backend, ca_key)
        self.verify_recipient(backend)


@host_only
def _schema():
    """The record's fields as the logger parses them (a card only builds records)."""
    return (
        (proto.TAG_VERSION, 1, 1, 0),
        (proto.TAG_CARD_ID, proto.CARD_ID_SIZE, proto.CARD_ID_SIZE, 0),
        (proto.TAG_R1, proto.RANDOM_SIZE, proto.RANDOM_SIZE, 0),
        (proto.TAG_G2, proto.HASH_SIZE, proto.HASH_SIZE, 0),
        (proto.TAG_AMOUNT, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_CHALL_ID, proto.CHALL_ID_SIZE, proto.CHALL_ID_SIZE, 0),
        (proto.TAG_COUNTER, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_SIGNATURE, proto.SIGNATURE_SIZE, proto.SIGNATURE_SIZE, 0),
        (proto.TAG_CERTIFICATE, 1, MAX_NESTED, 0),
        (proto.TAG_VOUCHER, 1, MAX_NESTED, 0),
        (proto.TAG_RECIPIENT, 1, MAX_NESTED, 0),
        (proto.TAG_RECIPIENT_SIGNATURE, proto.SIGNATURE_SIZE, proto.SIGNATURE_SIZE, 0),
        (proto.TAG_RTT, proto.U32_SIZE, proto.U32_SIZE, _OPT),
    )


@host_only
def _nested(cls, value, parsed):
    if parsed is None:
        return cls.from_value(value)
    key = (cls.TAG, bytes(value))
    record = parsed.get(key)
    if record is None:
        record = cls.from_value(value)
        parsed[key] = record
    return record
