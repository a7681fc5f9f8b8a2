"""Hypothesis interleaves transfers, replays, receipts and power cuts over three cards.

A small ledger model follows what the cards report: every payment that left a payer (its
identity (PkUA, ChallID, G1) and amount) and every credit a recipient queued. After every step
the cards and the model must agree, and value is conserved:

    sum of balances + payments debited but never credited == sum issued.
"""

import sys

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from mp_support import ROOT

sys.path.insert(0, str(ROOT / "tests" / "core"))

from _cards import World

from purse import proto
from purse.client import CardError
from purse.records.log import LogRecord
from purse.records.transfer import Challenge, Payment
from purse.store import PowerCut

NAMES = (b"A", b"B", b"C")
LOADS = {b"A": 5000, b"B": 3000, b"C": 0}
cards = st.sampled_from(NAMES)
modes = st.sampled_from(proto.SEAL_MODES)


class Ledger(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.world = World(balance_cap=20000, payment_cap=4000, unlogged_cap=12000)
        self.cards = {n: self.world.new_card(n, LOADS[n]) for n in NAMES}
        self.issued = sum(LOADS.values())
        self.paid = {}  # identity -> amount: payments that left a payer
        self.credited = {}  # identity -> name of the recipient that credited it
        self.challenges = []  # (payer, challenge bytes) that were answered
        self.payments = []  # (recipient, payment bytes) that were accepted

    def _learn(self, name):
        """Read what a card holds after a cut: journal and outbox tell what it committed."""
        client = self.cards[name].client
        info = client.info()
        for i in range(info.journal):
            pay = Payment.decode(client.read_journal(i))
            self.paid[pay.identity()] = pay.x
        for record in client.outbox():
            self.credited[LogRecord.decode(record).identity()] = name

    def _transfer(self, payer, recipient, x, mode, cut=None):
        p, r = self.cards[payer], self.cards[recipient]
        victim = None
        if cut is not None:
            victim = p if cut[0] == "payer" else r
            victim.fault.cut_at = victim.fault.ops + cut[1]
        try:
            challenge = r.client.make_challenge(x, mode)
            payment = p.client.pay(challenge)
            pay = Payment.decode(payment)
            self.paid[pay.identity()] = x
            self.challenges.append((payer, challenge))
            r.client.accept(challenge, payment)
            self.credited[pay.identity()] = recipient
            self.payments.append((recipient, challenge, payment))
        except CardError:
            pass
        except PowerCut:
            victim.power_cycle()
            self._learn(payer if victim is p else recipient)
        if victim is not None:
            victim.fault.restore()

    @rule(payer=cards, recipient=cards, x=st.integers(1, 4500), mode=modes)
    def transfer(self, payer, recipient, x, mode):
        if payer != recipient:
            self._transfer(payer, recipient, x, mode)

    @rule(
        payer=cards,
        recipient=cards,
        x=st.integers(1, 3000),
        side=st.sampled_from(("payer", "recipient")),
        op=st.integers(1, 6),
    )
    def transfer_with_power_cut(self, payer, recipient, x, side, op):
        if payer != recipient:
            self._transfer(payer, recipient, x, proto.SEAL_ENCRYPTED, (side, op))

    @precondition(lambda self: self.challenges)
    @rule(index=st.integers(0, 1000))
    def replay_challenge(self, index):
        """A terminal retries a challenge the payer answered: same payment, no second debit.

        Only challenges still in the payer's journal are retried: the journal keeps the last
        JOURNAL_MAX payments, and an older retry is the reconciliation's case (in doubt).
        """
        payer, challenge = self.challenges[index % len(self.challenges)]
        card = self.cards[payer]
        journal = [card.client.read_journal(i) for i in range(card.client.info().journal)]
        answered = [j for j in journal if Payment.decode(j).answers(Challenge.decode(challenge))]
        if not answered:
            return
        before = card.snapshot()
        assert card.client.pay(challenge) == answered[0]
        assert card.snapshot() == before

    @precondition(lambda self: self.payments)
    @rule(index=st.integers(0, 1000))
    def replay_payment(self, index):
        recipient, challenge, payment = self.payments[index % len(self.payments)]
        card = self.cards[recipient]
        before = card.snapshot()
        try:
            card.client.accept(challenge, payment)
            raise AssertionError("a payment was credited twice")
        except CardError as exc:
            assert exc.sw == proto.SW_CHALLENGE_UNKNOWN
        assert card.snapshot() == before

    @rule(name=cards)
    def sync(self, name):
        client = self.cards[name].client
        for record in client.outbox():
            client.take_receipt(self.world.receipt_for(record))

    @invariant()
    def value_is_conserved(self):
        balances = sum(c.client.info().balance for c in self.cards.values())
        in_doubt = sum(x for ident, x in self.paid.items() if ident not in self.credited)
        assert balances + in_doubt == self.issued

    @invariant()
    def cards_agree_with_the_model(self):
        for name, card in self.cards.items():
            info = card.client.info()
            paid = sum(x for ident, x in self.paid.items() if ident[0] == info.public_key)
            received = sum(self.paid[ident] for ident, who in self.credited.items() if who == name)
            assert info.balance == LOADS[name] + received - paid


Ledger.TestCase.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)
TestLedger = Ledger.TestCase
