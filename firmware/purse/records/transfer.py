"""The records of one transfer: B's challenge and A's payment (carrying S); B's log record is
in purse.records.log.

The patent's step names (docs/DESIGN.md section 2): B makes the challenge (G1, G2, eC, x, ChallID);
A answers with S = Sign_SkUA(x, G1, G2, ChallID, ctrA) plus CertT(A) and VoucherI(A); B queues
the log record (IdUB, VoucherI, CertT, S, ctrA, x, R1, G2, ChallID) for the logger L.
"""

from purse import proto, tlv
from purse.compat import host_only
from purse.errors import CredentialError, RecordError
from purse.records import fields as f
from purse.records.credentials import Certificate, Voucher
from purse.records.signed import MAX_NESTED, Signed
from purse.records.stamp import Stamp

_OPT = tlv.OPTIONAL
# Length of eC in each seal mode that carries one (encrypted: the sealed plaintext and its tag).
_SEALED_SIZE = {proto.SEAL_ENCRYPTED: proto.SEALED_SIZE, proto.SEAL_HASHED: proto.HASH_SIZE}


class Challenge(Signed):
    """B's challenge. Unsigned in the anonymous modes; in SEAL_SIGNED (the identified mode) it
    is signed with SkUB and carries CertT(B), so the payer sees whom it pays."""

    TAG = proto.TAG_CHALLENGE
    DOMAIN = proto.DOMAIN_CHALLENGE
    FIELDS = (
        (proto.TAG_SEAL_MODE, 1, 1, 0),
        (proto.TAG_G1, proto.HASH_SIZE, proto.HASH_SIZE, 0),
        (proto.TAG_G2, proto.HASH_SIZE, proto.HASH_SIZE, 0),
        (proto.TAG_SEALED, proto.HASH_SIZE, proto.SEALED_SIZE, _OPT),
        (proto.TAG_AMOUNT, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_CHALL_ID, proto.CHALL_ID_SIZE, proto.CHALL_ID_SIZE, 0),
    )
    SIGNATURE_FLAGS = _OPT
    EXTRA = ((proto.TAG_CERTIFICATE, 1, MAX_NESTED, _OPT),)

    def __init__(
        self, mode=proto.SEAL_ENCRYPTED, g1=None, g2=None, sealed=None, x=1, chall_id=None
    ):
        Signed.__init__(self)
        self.mode = mode
        self.g1 = g1
        self.g2 = g2
        self.sealed = sealed
        self.x = x
        self.chall_id = chall_id
        self.certificate = None

    def items(self):
        out = [
            (proto.TAG_SEAL_MODE, bytes((self.mode,))),
            (proto.TAG_G1, self.g1),
            (proto.TAG_G2, self.g2),
        ]
        if self.sealed is not None:
            out.append((proto.TAG_SEALED, self.sealed))
        out.append((proto.TAG_AMOUNT, f.amount(self.x)))
        out.append((proto.TAG_CHALL_ID, self.chall_id))
        return out

    def extra_items(self):
        if self.certificate is None:
            return []
        return [(proto.TAG_CERTIFICATE, self.certificate.encode_value())]

    def encode_value(self):
        self._check()
        return Signed.encode_value(self)

    def load(self, fields, outer):
        self.mode = fields[proto.TAG_SEAL_MODE][0]
        self.g1 = bytes(fields[proto.TAG_G1])
        self.g2 = bytes(fields[proto.TAG_G2])
        sealed = fields.get(proto.TAG_SEALED)
        self.sealed = None if sealed is None else bytes(sealed)
        self.x = f.uint(fields[proto.TAG_AMOUNT])
        self.chall_id = bytes(fields[proto.TAG_CHALL_ID])
        cert = outer.get(proto.TAG_CERTIFICATE)
        self.certificate = None if cert is None else Certificate.from_value(cert)
        self._check()

    def _check(self):
        if self.mode not in proto.SEAL_MODES:
            raise RecordError("Challenge: unknown seal mode %d" % self.mode)
        if self.x < 1:
            raise RecordError("Challenge: amount must be at least 1")
        want = _SEALED_SIZE.get(self.mode)
        have = None if self.sealed is None else len(self.sealed)
        if want != have:
            raise RecordError("Challenge: eC does not fit seal mode %d" % self.mode)
        identified = self.mode == proto.SEAL_SIGNED
        if identified != (self.certificate is not None):
            raise RecordError("Challenge: CertT(B) comes with the signed mode and only with it")
        if self.signature is not None and not identified:
            raise RecordError("Challenge: only the signed mode carries a signature")

    def verify_identified(self, backend, ca_key, ltime=None):
        """Signed mode: check CertT(B) with PkT (and its validity at `ltime`), then the
        challenge's signature with PkUB. Returns the recipient's certificate."""
        if self.mode != proto.SEAL_SIGNED or self.certificate is None:
            raise RecordError("Challenge: not in the identified mode")
        self.certificate.verify(backend, ca_key)
        if ltime is not None and not self.certificate.valid_at(ltime):
            raise CredentialError("recipient certificate is not valid at this L-time")
        self.verify(backend, self.certificate.public_key)
        return self.certificate


class Payment(Signed):
    """A's answer: S over (x, G1, G2, ChallID, ctrA), with eC echoed, CertT(A), VoucherI(A)
    and A's freshness stamp from L (purse.records.stamp).

    A payment is identified by (PkUA, ChallID, G1), never by its signature bytes.
    """

    TAG = proto.TAG_PAYMENT
    DOMAIN = proto.DOMAIN_PAYMENT
    FIELDS = (
        (proto.TAG_AMOUNT, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_G1, proto.HASH_SIZE, proto.HASH_SIZE, 0),
        (proto.TAG_G2, proto.HASH_SIZE, proto.HASH_SIZE, 0),
        (proto.TAG_CHALL_ID, proto.CHALL_ID_SIZE, proto.CHALL_ID_SIZE, 0),
        (proto.TAG_COUNTER, proto.U32_SIZE, proto.U32_SIZE, 0),
    )
    EXTRA = (
        (proto.TAG_SEALED, proto.HASH_SIZE, proto.SEALED_SIZE, _OPT),
        (proto.TAG_CERTIFICATE, 1, MAX_NESTED, 0),
        (proto.TAG_VOUCHER, 1, MAX_NESTED, 0),
        (proto.TAG_STAMP, 1, MAX_NESTED, 0),
    )

    def __init__(self, x=1, g1=None, g2=None, chall_id=None, counter=0):
        Signed.__init__(self)
        self.x = x
        self.g1 = g1
        self.g2 = g2
        self.chall_id = chall_id
        self.counter = counter
        self.sealed = None
        self.certificate = None
        self.voucher = None
        self.stamp = None

    @classmethod
    def answering(cls, challenge, counter, certificate, voucher, stamp):
        """The unsigned payment that answers `challenge` with payer counter `counter`."""
        pay = cls(challenge.x, challenge.g1, challenge.g2, challenge.chall_id, counter)
        pay.sealed = challenge.sealed
        pay.certificate = certificate
        pay.voucher = voucher
        pay.stamp = stamp
        return pay

    def items(self):
        return [
            (proto.TAG_AMOUNT, f.amount(self.x)),
            (proto.TAG_G1, self.g1),
            (proto.TAG_G2, self.g2),
            (proto.TAG_CHALL_ID, self.chall_id),
            (proto.TAG_COUNTER, f.u32(self.counter)),
        ]

    def extra_items(self):
        out = []
        if self.sealed is not None:
            out.append((proto.TAG_SEALED, self.sealed))
        out.append((proto.TAG_CERTIFICATE, self.certificate.encode_value()))
        out.append((proto.TAG_VOUCHER, self.voucher.encode_value()))
        out.append((proto.TAG_STAMP, self.stamp.encode_value()))
        return out

    def load(self, fields, outer):
        self.x = f.uint(fields[proto.TAG_AMOUNT])
        if self.x < 1:
            raise RecordError("Payment: amount must be at least 1")
        self.g1 = bytes(fields[proto.TAG_G1])
        self.g2 = bytes(fields[proto.TAG_G2])
        self.chall_id = bytes(fields[proto.TAG_CHALL_ID])
        self.counter = f.uint(fields[proto.TAG_COUNTER])
        sealed = outer.get(proto.TAG_SEALED)
        self.sealed = None if sealed is None else bytes(sealed)
        self.certificate = Certificate.from_value(outer[proto.TAG_CERTIFICATE])
        self.voucher = Voucher.from_value(outer[proto.TAG_VOUCHER])
        self.stamp = Stamp.from_value(outer[proto.TAG_STAMP])

    @property
    def payer_key(self):
        return self.certificate.public_key

    @host_only
    def identity(self):
        """(PkUA, ChallID, G1): what names this payment at the logger and in journals."""
        return (self.certificate.public_key, self.chall_id, self.g1)

    def answers(self, challenge):
        """True if this payment answers exactly `challenge` (x, G1, G2, ChallID, eC)."""
        return (
            self.x == challenge.x
            and self.g1 == challenge.g1
            and self.g2 == challenge.g2
            and self.chall_id == challenge.chall_id
            and self.sealed == challenge.sealed
        )

    def verify_chain(self, backend, ca_key, issuer_key, ltime=None, log_id=None):
        """Check CertT(A) with PkT, VoucherI(A) with PkI and for the same key, then S with PkUA.

        With `ltime`, the certificate must also be valid at that L-time; with `log_id`, the
        voucher must be of that log.
        """
        self.certificate.verify(backend, ca_key)
        if ltime is not None and not self.certificate.valid_at(ltime):
            raise CredentialError("payer certificate is not valid at this L-time")
        self.voucher.verify(backend, issuer_key, log_id)
        if self.voucher.public_key != self.certificate.public_key:
            raise CredentialError("voucher was issued to another card")
        self.verify(backend, self.certificate.public_key)
