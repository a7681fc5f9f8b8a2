"""The worked example of docs/PROTOCOL.md: a full provisioning and transfer from fixed keys.

Every key and random value is derived from a fixed label, and signatures use RFC 6979 without
extra entropy, so the transcript is the same on every run and on both interpreters. The test
tests/host/test_protocol_doc.py fails if docs/PROTOCOL.md and this transcript disagree, and an
independent checker verifies every signature in it with pyca/cryptography alone.
"""

import hashlib

from purse import proto
from purse.crypto.backend import Signer
from purse.crypto.pure import PureBackend
from purse.crypto.seal import SealKey
from purse.records import fields as f
from purse.records.checkpoint import log_id
from purse.records.credentials import Certificate, RevocationList, RiskParameters, Voucher
from purse.records.log import LogRecord
from purse.records.logger import Receipt, Ticket
from purse.records.stamp import Stamp
from purse.records.transfer import Challenge, Payment

NOT_BEFORE = 1767225600  # 2026-01-01T00:00:00Z in L-time seconds.
NOT_AFTER = 1893456000  # 2030-01-01T00:00:00Z.
LTIME = 1795000000  # The L-time of the example's exchanges.


def derive(label):
    """A fixed 32-byte value for the example: SHA-256 of "icpurse example " || label."""
    return hashlib.sha256(b"icpurse example " + label).digest()


class Example:
    """Builds the example's keys and records; attributes hold them for tests to reuse."""

    def __init__(self, backend=None):
        b = self.backend = backend or PureBackend()
        self.ca = Signer(b, derive(b"SkT"))
        self.issuer = Signer(b, derive(b"SkI"))
        self.logger = Signer(b, derive(b"SkL"))
        self.card_a = Signer(b, derive(b"SkUA"))
        self.card_b = Signer(b, derive(b"SkUB"))
        self.k_b = derive(b"K of card B")
        # L's log: the random genesis its database was made with names it, with PkL.
        self.genesis = derive(b"genesis of L's log")[:16]
        self.log_id = log_id(self.logger.public_key, self.genesis)

        self.cert_a = Certificate(1, self.card_a.public_key, NOT_BEFORE, NOT_AFTER).sign(self.ca)
        self.cert_b = Certificate(2, self.card_b.public_key, NOT_BEFORE, NOT_AFTER).sign(self.ca)
        self.risk = RiskParameters(1, 100000, 20000, 50000, 7 * 86400, NOT_BEFORE, NOT_AFTER)
        self.risk.sign(self.issuer)
        self.voucher_a = Voucher(self.card_a.public_key, 10000, 1, LTIME - 3600, self.log_id)
        self.voucher_a.sign(self.issuer)
        self.revocation = RevocationList(1, LTIME - 7200, ()).sign(self.ca)
        # A's stamp from its last sync: L held its payments up to counter 0.
        self.stamp_a = Stamp(self.cert_a.card_id, 0, LTIME - 1800, self.log_id)
        self.stamp_a.sign(self.logger)

        # Embodiment 2: B's fresh nonce, and L's ready-ticket that binds it.
        self.nonce_b = derive(b"nonce of card B")[:16]
        self.ticket = Ticket(self.nonce_b, LTIME, self.log_id).sign(self.logger)

        # Step 1: B's challenge for x = 1250, ChallID = counter 1 || 4 random bytes.
        self.x = 1250
        self.r1 = derive(b"R1")[:16]
        self.r2 = derive(b"R2")[:16]
        self.chall_id = (1).to_bytes(4, "big") + derive(b"ChallID")[:4]
        plaintext = f.sealed_plaintext(self.r1, self.r2, self.x, self.chall_id)
        sealed = SealKey(self.k_b).seal(self.chall_id, plaintext)
        self.challenge = Challenge(
            proto.SEAL_ENCRYPTED,
            f.g1(self.cert_b.card_id, self.r1),
            f.g2(self.card_b.public_key, self.r2),
            sealed,
            self.x,
            self.chall_id,
        )

        # Step 2: A answers with its payer counter at 1.
        self.payment = Payment.answering(
            self.challenge, 1, self.cert_a, self.voucher_a, self.stamp_a
        )
        self.payment.sign(self.card_a)

        # Step 3: B signs and queues the log record; step 4: L stores it as leaf 0 and signs a
        # receipt.
        self.log_record = LogRecord(self.cert_b.card_id, self.r1, self.payment)
        self.log_record.sign(self.card_b, self.cert_b)
        self.receipt = Receipt(
            self.log_record.hash(), self.cert_b.card_id, self.chall_id, 0, 1, LTIME + 5,
            self.log_id,
        ).sign(self.logger)  # fmt: skip

    def transcript(self):
        """[(name, bytes)] in the order the example presents them."""
        return [
            ("PkT", self.ca.public_key),
            ("PkI", self.issuer.public_key),
            ("PkL", self.logger.public_key),
            ("genesis", self.genesis),
            ("LogId", self.log_id),
            ("PkUA", self.card_a.public_key),
            ("PkUB", self.card_b.public_key),
            ("CertT(A)", self.cert_a.encode()),
            ("CertT(B)", self.cert_b.encode()),
            ("RiskParameters", self.risk.encode()),
            ("VoucherI(A)", self.voucher_a.encode()),
            ("RevocationList", self.revocation.encode()),
            ("Stamp(A)", self.stamp_a.encode()),
            ("Ticket", self.ticket.encode()),
            ("Challenge", self.challenge.encode()),
            ("Payment", self.payment.encode()),
            ("LogRecord", self.log_record.encode()),
            ("H(record)", self.log_record.hash()),
            ("Receipt", self.receipt.encode()),
        ]
