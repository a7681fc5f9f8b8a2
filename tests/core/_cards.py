"""In-process cards for tests: real Card, Applet and Store (on a MemoryBackend behind a fault
point), driven through APDUs by CardClient, with the authorities of the worked example.

Runs on CPython and on MicroPython, like every core test.
"""

import hashlib

from _example import NOT_AFTER, NOT_BEFORE, derive

from purse import proto, tlv
from purse.applet import Applet
from purse.client import CardClient, personalise
from purse.crypto.backend import Signer
from purse.crypto.pure import PureBackend
from purse.faults import FaultPoint
from purse.records.checkpoint import log_id
from purse.records.credentials import Certificate, RevocationList, RiskParameters, Voucher
from purse.records.log import LogRecord
from purse.records.logger import Receipt, Ticket
from purse.records.stamp import Stamp
from purse.records.transfer import Payment
from purse.store import MemoryBackend, Store
from purse.wallet.card import Card

# The speed-ups every card of a World gets unless a test gives its own: (anchor_spans,
# peer_spans), as a board profile sets them. tests/core/test_wallet_fast.py runs the wallet's
# tests again with a fast profile's, each card then with a backend of its own, as on a board.
SPEEDUPS = (0, 0)

START_LTIME = 1795000000
WINDOW = 7 * 86400


class Rng:
    """Deterministic randomness for reproducible cards: SHA-256 of a seed and a counter."""

    def __init__(self, seed):
        self.seed = seed
        self.counter = 0

    def __call__(self, n):
        out = b""
        while len(out) < n:
            self.counter += 1
            out += hashlib.sha256(self.seed + self.counter.to_bytes(4, "big")).digest()
        return out[:n]


class TestCard:
    """One card: its fault-injectable storage, the Card, its Applet and a client for it."""

    def __init__(self, world, name, confirm=None, anchor_spans=0, backend=None):
        """`anchor_spans` and `backend` as Card takes them; the cards of a World share its
        backend unless given their own, as a board's card has."""
        self.name = name
        if not anchor_spans and backend is None and SPEEDUPS != (0, 0):
            anchor_spans, backend = SPEEDUPS[0], PureBackend(peer_spans=SPEEDUPS[1])
        self.memory = MemoryBackend()
        self.fault = FaultPoint(self.memory)
        # The card's running clock (milliseconds) stands still unless a test moves it: only a
        # pending challenge's lifetime depends on it.
        self.ms = 0
        self.card = Card(
            Store(self.fault), Rng(name), self._clock, backend or world.backend, confirm,
            anchor_spans,
        )  # fmt: skip
        self.applet = Applet(self.card)
        self.client = CardClient(self._exchange)
        self.exchanges = []

    def _exchange(self, command):
        response = self.applet.process(command)
        self.exchanges.append((command, response))
        return response

    def _clock(self):
        return self.ms

    def accept_raw(self, payment, expected=None, ticket=b""):
        """ACCEPT sent as a hostile terminal sends it, without the client's check that the
        payment answers the challenge: the card's own checks are what is tested. `expected`
        is the ChallID the terminal names (the payment's own by default)."""
        if expected is None:
            expected = Payment.decode(payment).chall_id
        data = tlv.encode(proto.TAG_CHALL_ID, expected) + payment + ticket
        answer = dict(tlv.decode_all(self.client.command("ACCEPT", proto.INS_ACCEPT, data=data)))
        return (
            int.from_bytes(bytes(answer[proto.TAG_AMOUNT]), "big"),
            int.from_bytes(bytes(answer[proto.TAG_BALANCE]), "big"),
        )

    def leaked(self, secret):
        """True if `secret` appeared in any response the card ever sent."""
        for _, response in self.exchanges:
            if secret in response:
                return True
        return False

    def snapshot(self):
        """Every stored file, to prove a refusal changed nothing."""
        return dict(self.memory.files)

    def power_cycle(self):
        """Power comes back: a new Card reads the store, as a board does at boot."""
        self.fault.restore()
        self.applet.reset()
        self.client.select()


class World:
    """The CA, the issuer and the logger of the worked example, and the cards they serve."""

    def __init__(self, balance_cap=100000, payment_cap=20000, unlogged_cap=50000):
        self.backend = PureBackend()
        self.ca = Signer(self.backend, derive(b"SkT"))
        self.issuer = Signer(self.backend, derive(b"SkI"))
        self.logger = Signer(self.backend, derive(b"SkL"))
        # The log's id: its genesis is what a logger's database is made with.
        self.log_id = log_id(self.logger.public_key, derive(b"genesis of L's log")[:16])
        self.ltime = START_LTIME
        self.serial = 0
        self.issued = {}
        self.leaves = 0
        self.risk_sequence = 0
        self.risk = self.risk_parameters(balance_cap, payment_cap, unlogged_cap)

    @property
    def anchors(self):
        """(PkT, PkI, PkL || log id), as INSTALL TRUST takes them."""
        return (self.ca.public_key, self.issuer.public_key, self.logger.public_key + self.log_id)

    def risk_parameters(self, balance_cap, payment_cap, unlogged_cap, window=WINDOW):
        self.risk_sequence += 1
        params = RiskParameters(
            self.risk_sequence, balance_cap, payment_cap, unlogged_cap, window, NOT_BEFORE,
            NOT_AFTER,
        )  # fmt: skip
        return params.sign(self.issuer).encode()

    def certify(self, public_key, ca=None):
        self.serial += 1
        cert = Certificate(self.serial, public_key, NOT_BEFORE, NOT_AFTER)
        return cert.sign(ca or self.ca).encode()

    def ticket_for(self, nonce, ltime=None):
        ltime = self.ltime if ltime is None else ltime
        return Ticket(nonce, ltime, self.log_id).sign(self.logger).encode()

    def new_card(self, name, amount=0, confirm=None, risk=None, anchor_spans=0, backend=None):
        card = TestCard(self, name, confirm, anchor_spans, backend)
        personalise(card.client, self.anchors, self.certify, risk or self.risk, self.ticket_for)
        # Every card gets a first voucher, for w = 0 if nothing is loaded: a payment always
        # shows VoucherI(A), even one paid from received money only; and its first stamp, which
        # every payment shows too.
        self.load(card, amount)
        self.stamp(card)
        return card

    def stamp_for(self, card, counter=None, ltime=None):
        """L's stamp for `card`: it holds the card's payments up to `counter` (all it made)."""
        info = card.client.info()
        stamp = Stamp(
            info.card_id, info.counter if counter is None else counter,
            self.ltime if ltime is None else ltime, self.log_id,
        )  # fmt: skip
        return stamp.sign(self.logger).encode()

    def stamp(self, card, counter=None, ltime=None):
        """Sync `card` as far as the journal goes: L acknowledges it with a stamp."""
        card.client.take_stamp(self.stamp_for(card, counter, ltime))

    def voucher(self, card, amount, issuer=None, public_key=None):
        """The next voucher for a card: cumulative w raised by `amount`, sequence + 1."""
        key = public_key or card.card.state.public_key
        issued, sequence = self.issued.get(key, (0, 0))
        voucher = Voucher(key, issued + amount, sequence + 1, self.ltime, self.log_id)
        return voucher.sign(issuer or self.issuer).encode()

    def load(self, card, amount):
        data = self.voucher(card, amount)
        balance = card.client.load_voucher(data)
        card.last_voucher = data
        key = card.card.state.public_key
        issued, sequence = self.issued.get(key, (0, 0))
        self.issued[key] = (issued + amount, sequence + 1)
        return balance

    def revocation(self, card_ids, sequence=1):
        return RevocationList(sequence, self.ltime, card_ids).sign(self.ca).encode()

    def receipt_for(self, record, ltime=None):
        """The logger's receipt for a log record, as L would sign it."""
        rec = LogRecord.decode(record)
        self.leaves += 1
        receipt = Receipt(
            rec.hash(), rec.recipient_id, rec.payment.chall_id, self.leaves - 1, self.leaves,
            self.ltime if ltime is None else ltime, self.log_id,
        )  # fmt: skip
        return receipt.sign(self.logger).encode()

    def transfer(self, payer, recipient, x, mode=proto.SEAL_ENCRYPTED, with_ticket=False):
        """The patent's exchange relayed by an honest terminal. Returns the payment bytes."""
        challenge = recipient.client.make_challenge(x, mode, with_ticket)
        payment = payer.client.pay(challenge)
        ticket = None
        if with_ticket:
            ticket = self.ticket_for(recipient.client.get_nonce())
        recipient.client.accept(challenge, payment, ticket)
        return payment
