"""Valid, fully signed transfer log records in bulk, for the load benchmark and crash tests.

A throwaway CA, issuer and set of cards (keys derived from a seed) produce records exactly as
cards would — CertT(A), VoucherI(A), S over (x, G1, G2, ChallID, ctrA) — but signed with the
pyca backend directly, so thousands take a second, not the minutes pure-Python cards need.

The vouchers name a log: a logger refuses records whose payer's voucher names another, so a
generator that feeds a logger joins its log first (`join`, with the log id of its checkpoint).
"""

import hashlib

from icpurse.crypto_pyca import PycaBackend
from purse import proto
from purse.crypto.backend import Signer
from purse.records import fields as f
from purse.records.checkpoint import Checkpoint
from purse.records.credentials import Certificate, Voucher
from purse.records.log import LogRecord
from purse.records.transfer import Payment

NOT_BEFORE = 1767225600
NOT_AFTER = 1893456000


def _key(seed, label):
    return hashlib.sha256(b"icpurse loadgen " + seed + b" " + label).digest()


class LoadGenerator:
    """Authorities and `cards` payers and recipients; `records(n)` makes n fresh records."""

    def __init__(self, seed=b"bench", cards=8):
        backend = PycaBackend()
        self.ca = Signer(backend, _key(seed, b"T"))
        self.issuer = Signer(backend, _key(seed, b"I"))
        # A throwaway key: the benchmark's reader processes sign as the issuer with it.
        self.issuer_secret = _key(seed, b"I")
        self.cards = []
        for i in range(cards):
            signer = Signer(backend, _key(seed, b"card %d" % i))
            cert = Certificate(i + 1, signer.public_key, NOT_BEFORE, NOT_AFTER).sign(self.ca)
            self.cards.append([signer, cert, None, 0])
        self.serial = 0
        # Until it joins a logger's log, one of its own, named by the seed.
        self.join(_key(seed, b"log")[: proto.LOG_ID_SIZE])

    def join(self, log_id):
        """Sign every card's voucher for the log `log_id`; records made afterwards show them."""
        self.log_id = bytes(log_id)
        for card in self.cards:
            card[2] = Voucher(card[0].public_key, 10**9, 1, NOT_BEFORE, self.log_id)
            card[2].sign(self.issuer)

    def join_logger(self, http):
        """`join` the log of the logger that `http` (an httpx client at its URL) serves, as its
        checkpoint names it. Returns the log id."""
        answer = http.get("/v1/checkpoint")
        answer.raise_for_status()
        self.join(Checkpoint.decode(bytes.fromhex(answer.json()["checkpoint"])).log_id)
        return self.log_id

    def vouchers(self):
        """The issuer feed: every card's voucher, so the logger knows every card."""
        return [card[2].encode() for card in self.cards]

    def records(self, n, amount=1):
        """n valid log records, each a new payment between two of the cards."""
        out = []
        count = len(self.cards)
        for _ in range(n):
            self.serial += 1
            payer = self.cards[self.serial % count]
            recipient = self.cards[(self.serial + 1) % count]
            payer[3] += 1
            material = hashlib.sha256(b"%d" % self.serial).digest()
            r1, r2 = material[:16], material[16:]
            chall_id = self.serial.to_bytes(8, "big")
            payment = Payment(
                amount,
                f.g1(recipient[1].card_id, r1),
                f.g2(recipient[0].public_key, r2),
                chall_id,
                payer[3],
            )
            payment.certificate = payer[1]
            payment.voucher = payer[2]
            payment.sign(payer[0])
            record = LogRecord(recipient[1].card_id, r1, payment)
            out.append(record.sign(recipient[0], recipient[1]).encode())
        return out
