"""Issue 20's attacks, interleaved by hypothesis over several cards, the logger and the issuer.

Honest parties pay (the terminal's transfer and tap-like exchanges), sync, load, reconcile
(refund what the logger lists as due), revoke, lose power and let time pass. An attacker, who
controls relays, terminals, bystanders and the cards it owns, withholds payments and delivers
them later (to their recipient, or substituted for another challenge by a hostile terminal),
replays old challenges to payers, re-encodes records and submits them first, uploads other
cards' payments, clones cards and spends from every copy, and keeps spending from revoked
cards. The rules of docs/PROTOCOL.md sections 6 and 7 must hold throughout.

A card is *honest* while nobody but its holder drives it: never cloned, never revoked (a
revoked card's payments settle at its recovery, never by refund, and the attacker may keep
spending from it) and not the attacker's own card M. Every other card is attacker-controlled,
and so, retroactively, is all of its history. The test tracks what every card signed and what
every ACCEPT credited, and checks after every step:

1. Honest value is backed: the value on honest cards, plus what the issuer owes them (their
   in-doubt payments the logger lists as due, and refund vouchers the issuer signed that the
   cards have not loaded yet), is at most what the issuer loaded onto them, plus what
   attacker-controlled payers paid into them (credited by honest recipients), less what honest
   payers paid to attacker-controlled recipients and did not get back (neither refunded nor
   due). A payment both credited by an honest card and refunded breaks it.
2. The attacker's gain is bounded as section 7.3 says: the value it moved into honest cards
   beyond its backing (the issuer's vouchers for its keys, and the honest payments it received
   and nobody refunded) is at most P times the number of its payments honest recipients
   accepted, and at most the value its extra copies were made with (each copy's balance when
   it was made, and every later raise of its key's voucher, which every copy loads), plus the
   payments its own cards credited that were refunded to their payers anyway (a recipient that
   does not log within the window stops trading only once its L-time moves on; what it spends
   before falls on the issuer).
3. The logger names no honest card in an overspend alert, even while it holds a credit not
   logged yet.

At the end of every run everything is settled (every card syncs, the refund delay passes, the
issuer refunds what is due, the cards sync again), and then:

4. Every payment an honest payer signed is credited exactly once or refunded exactly once,
   never both. A payer may sign one challenge twice (a relay replays it), so this is counted
   per challenge: it is credited at most once; credited by an honest recipient, exactly one of
   its payments is logged and every other refunded once; credited by nobody, every payment is
   refunded once; credited by an attacker's card, at most one is logged, the rest refunded.
5. Every honest card holds exactly the balance the logger reconstructs for it, and any two
   payments the logger holds (as leaves or journalled payments) that reuse one payer counter
   are named by counter-reuse evidence.

The logger's clock is frozen at the example's start and moves with the cards' running clocks
only when a rule lets time pass, so that the margins of the liveness rule are the protocol's
own, not those of a slow test machine. The cards' settlement window (risk parameter 9B) equals
the logger's, the largest the protocol allows, and honest recipients log within it: before
time passes, every honest card holding an unlogged credit syncs.

The plain tests at the end show that each check fails on a hand-made violation, and replay the
five product bugs this machine found before they were fixed (each failed then).
"""

import itertools
import time
from collections import namedtuple

import _cards
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from logger_fixtures import WINDOW, LoggerWorld, drop_schema, postgres_url

from icpurse.logger import REFUND_DELAY_MIN
from icpurse.logger.client import LoggerError
from icpurse.logger.service.journals import payment_identity, payment_key
from icpurse.terminal import TransferInDoubt, TransferRefused, transfer
from purse import proto
from purse.client import CardError, WrongPayment
from purse.records.log import LogRecord
from purse.records.transfer import Challenge, Payment

P = 1000  # The payment cap.
BALANCE_CAP = 100000
UNLOGGED_CAP = 50000
HONEST = (("A", 3000), ("B", 2000), ("C", 1000), ("D", 0))
ATTACKER = ("M", 3000)  # The attacker's own card, bought and loaded like any other.
SETTLE = max(WINDOW, REFUND_DELAY_MIN) + 1
MAX_CARDS = 8
MIN_HONEST = 3

SETTINGS = settings(
    max_examples=40,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# identity: the challenge it answers (settlement.payment_identity); key: the payment itself
# (settlement.payment_key), as journals, refunds and settlements name it.
Signed = namedtuple("Signed", "payer x identity counter key")


# --- the model and the checks, on plain data -----------------------------------------------


class Model:
    """What the test knows of the money, as plain data. The checks below read only this and
    what the cards and the logger answer, so the plain tests can hand them violations."""

    def __init__(self):
        self.honest = set()  # Public keys of the honest cards.
        self.loaded = {}  # Public key -> value the issuer loaded (refunds left out).
        self.signed = {}  # Payment bytes -> Signed: every payment a card signed.
        self.credits = {}  # Payment bytes -> [public key of each recipient that credited it].
        self.refunds = {}  # Payment key -> [(payer key, amount) of each refund voucher].
        self.copies = []  # (public key, balance, issued) of each extra copy when it was made.

    def settled(self, key, due):
        """True if the payment named `key` was refunded or is due for a refund."""
        return key in self.refunds or key in due


def check_value_backed(model, on_cards, owed, due):
    """Invariant 1. `on_cards`: the value on honest cards; `owed`: refund vouchers signed for
    honest cards and not loaded yet; `due`: {payment key: (payer key, amount)} of the payments the
    logger lists as due for a refund."""
    held = on_cards + owed
    held += sum(amount for payer, amount in due.values() if payer in model.honest)
    backing = sum(model.loaded.get(key, 0) for key in model.honest)
    for ref, recipients in model.credits.items():
        signed = model.signed[ref]
        for recipient in recipients:
            if signed.payer not in model.honest and recipient in model.honest:
                backing += signed.x
            elif (
                signed.payer in model.honest
                and recipient not in model.honest
                and not model.settled(signed.key, due)
            ):
                backing -= signed.x
    assert held <= backing, "honest cards hold or are owed %d, backed by %d" % (held, backing)


def check_attacker_gain(model, due, issued):
    """Invariant 2. `issued`: {public key: the issuer's voucher total (loads and refunds)}."""
    paid_in = accepted = doubled = 0
    backing = sum(total for key, total in issued.items() if key not in model.honest)
    for ref, recipients in model.credits.items():
        signed = model.signed[ref]
        settled = model.settled(signed.key, due)
        for recipient in recipients:
            if recipient in model.honest:
                if signed.payer not in model.honest:
                    paid_in += signed.x
                    accepted += 1
            elif settled:
                doubled += signed.x
            elif signed.payer in model.honest:
                backing += signed.x
    created = paid_in - backing
    bound = P * accepted
    assert created <= bound, "the attacker created %d with %d payments of at most %d" % (
        created, accepted, P
    )  # fmt: skip
    copied = sum(balance + issued.get(key, 0) - was for key, balance, was in model.copies)
    assert created <= copied + doubled, (
        "the attacker created %d; its copies were made with %d and recipients it controls "
        "credited %d that was refunded" % (created, copied, doubled)
    )


def check_no_honest_overspender(alerts, honest_ids):
    """Invariant 3. `honest_ids`: the honest cards' ids as hex."""
    named = {entry["card_id"] for entry in alerts["overspend"]} & set(honest_ids)
    assert not named, "honest cards named in the overspend alert: %s" % sorted(named)


def check_settlement(model, states):
    """Invariant 4. `states`: {payment bytes: the logger's state of the payment} for every
    payment an honest payer signed. A payer may sign one challenge more than once (a relay
    replays it): each signature debited the card, the challenge is credited at most once, and
    every payment of the challenge that no credit stands for is refunded once."""
    problems = []
    groups = {}
    for ref, signed in model.signed.items():
        if signed.payer in model.honest:
            groups.setdefault((signed.payer, signed.identity), []).append(ref)
    for refs in groups.values():
        recipients = [r for ref in refs for r in model.credits.get(ref, [])]
        refunds = [len(model.refunds.get(model.signed[ref].key, [])) for ref in refs]
        logged = sum(states[ref] == "logged" for ref in refs)
        refunded = sum(states[ref] == "refunded" for ref in refs)
        once = all(n == (states[ref] == "refunded") for ref, n in zip(refs, refunds, strict=True))
        settled = once and logged + refunded == len(refs)
        if len(recipients) > 1:
            ok = False
        elif any(r in model.honest for r in recipients):
            ok = settled and logged == 1
        elif recipients:
            ok = settled and logged <= 1
        else:
            ok = settled and logged == 0
        if not ok:
            signed = model.signed[refs[0]]
            problems.append(
                "%d payment(s) of %d of %s for one challenge (counters %s): credited %d times,"
                " refunds %s, states %s"
                % (len(refs), signed.x, signed.payer.hex()[:8],
                   [model.signed[ref].counter for ref in refs], len(recipients), refunds,
                   [states[ref] for ref in refs])
            )  # fmt: skip
    assert not problems, problems


def check_ledger(balances):
    """Invariant 5, first part. `balances`: {name: (card balance, the logger's balance)}."""
    wrong = {name: pair for name, pair in balances.items() if pair[0] != pair[1]}
    assert not wrong, "card and ledger disagree: %s" % wrong


def check_clone_evidence(held, evidence):
    """Invariant 5, second part. `held`: (payer id hex, counter, identity) of every payment
    the logger holds, as a leaf or a journalled payment; `evidence`: the alerts' evidence."""
    identities = {}
    for payer, counter, identity in held:
        identities.setdefault((payer, counter), set()).add(identity)
    blamed = {e["payer_id"] for e in evidence if e["kind"] == "counter-reuse"}
    reused = {payer for (payer, _), ids in identities.items() if len(ids) > 1}
    assert reused <= blamed, "counter reuse without evidence: %s" % sorted(reused - blamed)


# --- the deployment ---------------------------------------------------------------------------


def make_world(url):
    """A LoggerWorld whose clock moves only by `advance`, with cards whose window is L's."""
    world = LoggerWorld(url, balance_cap=BALANCE_CAP, payment_cap=P, unlogged_cap=UNLOGGED_CAP)
    start = time.time()
    world.service.clock = lambda: start + world.offset
    world.risk = world.risk_parameters(BALANCE_CAP, P, UNLOGGED_CAP, window=WINDOW)
    return world


def clone_of(world, card, name):
    """A copy of `card`'s stored state on a new card, as whoever reads a board's flash makes."""
    copy = _cards.TestCard(world, name)
    copy.memory.files.clear()
    copy.memory.files.update(card.memory.files)
    copy.ms = card.ms
    copy.power_cycle()
    return copy


class _Recording:
    """A recipient's client that keeps the challenge it made, as a relay sees it go by."""

    def __init__(self, client):
        self.client = client
        self.challenge = None

    def make_challenge(self, *args, **kwargs):
        self.challenge = self.client.make_challenge(*args, **kwargs)
        return self.challenge

    def __getattr__(self, name):
        return getattr(self.client, name)


_amounts = st.integers(min_value=1, max_value=P + 200)
_pick = st.integers(min_value=0, max_value=63)
_seconds = st.sampled_from((5, 20, 31, SETTLE))


class AdversarialPurse(RuleBasedStateMachine):
    """The deployment under attack; `new_database()` gives (logger URL, disposal function)."""

    new_database = None

    def __init__(self):
        super().__init__()
        url, self.dispose = type(self).new_database()
        self.world = make_world(url)
        self.model = Model()
        self.cards = {}  # Name -> TestCard.
        self.key = {}  # Name -> public key.
        self.key_by_id = {}  # Card id -> public key.
        self.revoked = {}  # Public key -> the L-time the logger learned of its revocation.
        self.revocations = 0
        self.withheld = []  # (payment, challenge, recipient name) a relay kept.
        self.answered = []  # (payer name, challenge, recipient name) a payer signed for.
        self.names = itertools.count(1)
        self.turn = 0  # Whose turn it is to sync.
        self.time_passed = False  # Whether time passed since the issuer last reconciled.
        for name, amount in (*HONEST, ATTACKER):
            card = self.world.new_card(name.encode(), amount)
            self._register(name, card)
            self.model.loaded[self.key[name]] = amount
        self.model.honest = {self.key[name] for name, _ in HONEST}

    def _register(self, name, card):
        self.cards[name] = card
        key = card.card.state.public_key
        self.key[name] = key
        self.key_by_id[card.client.info().card_id] = key

    # --- helpers ---------------------------------------------------------------------------

    def _ltime(self):
        return self.world.service.ltime()

    def _honest(self, name):
        return self.key[name] in self.model.honest

    def _names(self, honest=None):
        names = sorted(self.cards)
        if honest is None:
            return names
        return [n for n in names if self._honest(n) == honest]

    def _choose(self, index, names):
        return names[index % len(names)] if names else None

    def _signed(self, name, payment):
        pay = Payment.decode(payment)
        signed = Signed(
            self.key[name], pay.x, payment_identity(pay), pay.counter, payment_key(pay)
        )
        self.model.signed.setdefault(bytes(payment), signed)

    def _credited(self, name, payment):
        self.model.credits.setdefault(bytes(payment), []).append(self.key[name])

    def _sync(self, name):
        card = self.cards[name]
        if not self._honest(name):
            try:
                self.world.client.sync(card.client)
            except CardError:
                pass  # A copy may hold a voucher or stamp its twin took already.
            return
        report = self.world.client.sync(card.client)
        # An honest recipient's record is never refused: it logs within the window, and
        # nobody else can make its record conflict (docs/PROTOCOL.md section 7.0).
        assert report.refused == [], (name, report.refused)

    def _transfer(self, payer, recipient, x, rtt=None):
        """An honest terminal's transfer (or, with `rtt`, a tap's exchange)."""
        p, r = self.cards[payer], self.cards[recipient]
        if payer == recipient:
            return
        if self._honest(payer) and p.client.info().journal >= proto.JOURNAL_MAX:
            self._sync(payer)  # An honest terminal syncs a full journal before paying.
        if rtt is None:
            seen = _Recording(r.client)
            try:
                outcome = transfer(p.client, seen, x)
            except TransferRefused:
                return
            except TransferInDoubt as exc:
                self._signed(payer, exc.payment)
                self.answered.append((payer, seen.challenge, recipient))
                return
            self._signed(payer, outcome.payment)
            self.answered.append((payer, seen.challenge, recipient))
            assert outcome.credited == x
            self._credited(recipient, outcome.payment)
            return
        try:
            challenge = r.client.make_challenge(x)
            payment = p.client.pay(challenge)
        except CardError:
            return
        self._signed(payer, payment)
        self.answered.append((payer, challenge, recipient))
        try:
            credited, _ = r.client.accept(challenge, payment, rtt=rtt)
        except CardError:
            return  # Refused, or the card left the field: the payment is in doubt.
        assert credited == x
        self._credited(recipient, payment)

    def _deliver(self, name, payment, challenge=None):
        """ACCEPT of `payment` by card `name`: through the honest client for `challenge`, or
        from a hostile terminal naming the payment's own challenge. True if credited."""
        card = self.cards[name]
        try:
            if challenge is None:
                card.accept_raw(payment)
            else:
                card.client.accept(challenge, payment)
        except CardError:
            return False
        self._credited(name, payment)
        return True

    def _refund_due(self):
        """The issuer refunds what the logger lists as due, as `icpurse reconcile` does."""
        for entry in self.world.client.in_doubt():
            if not entry["due"]:
                continue
            key = self.key_by_id[bytes.fromhex(entry["payer_id"])]
            identity = bytes.fromhex(entry["payment_key"])
            amount = entry["amount"]
            voucher = self.world.voucher(None, amount, public_key=key)
            try:
                self.world.client.publish_voucher(voucher, "refund", identity)
            except LoggerError as exc:
                if exc.status in (409, 425):
                    continue  # Logged, refunded or revoked meanwhile.
                raise
            issued, sequence = self.world.issued.get(key, (0, 0))
            self.world.issued[key] = (issued + amount, sequence + 1)
            self.model.refunds.setdefault(identity, []).append((key, amount))

    def _advance(self, seconds):
        # Honest recipients log within their window: they sync before time passes.
        for name in self._names(honest=True):
            if self.cards[name].client.info().outbox:
                self._sync(name)
        self.world.advance(seconds)
        for card in self.cards.values():
            card.ms += seconds * 1000
        self.time_passed = True

    def _issued(self):
        return {key: self.world.issued.get(key, (0, 0))[0] for key in self.key.values()}

    def _check_money(self):
        due = {}
        for entry in self.world.client.in_doubt():
            if entry["due"]:
                key = self.key_by_id[bytes.fromhex(entry["payer_id"])]
                due[bytes.fromhex(entry["payment_key"])] = (key, entry["amount"])
        issued = self._issued()
        on_cards = owed = 0
        honest_ids = []
        for name in self._names(honest=True):
            info = self.cards[name].client.info()
            on_cards += info.balance
            owed += issued[self.key[name]] - info.issued
            honest_ids.append(info.card_id.hex())
        check_value_backed(self.model, on_cards, owed, due)
        check_attacker_gain(self.model, due, issued)
        check_no_honest_overspender(self.world.client.alerts(), honest_ids)

    # --- honest rules ----------------------------------------------------------------------

    @rule(payer=_pick, recipient=_pick, x=_amounts)
    def pay(self, payer, recipient, x):
        """A holder pays at an honest terminal (icpurse.terminal.transfer)."""
        names = self._names()
        self._transfer(self._choose(payer, names), self._choose(recipient, names), x)

    @rule(payer=_pick, recipient=_pick, x=_amounts, rtt=st.integers(0, 500000))
    def tap(self, payer, recipient, x, rtt):
        """Two cards tap: the recipient runs the exchange and keeps the round-trip time."""
        names = self._names()
        self._transfer(self._choose(payer, names), self._choose(recipient, names), x, rtt)

    @rule()
    def sync(self):
        """Honest holders sync in turn, one card a step."""
        self.turn += 1
        self._sync(self._choose(self.turn, self._names(honest=True)))

    @rule(card=_pick, amount=st.integers(1, 2000))
    def load(self, card, amount):
        """The issuer loads an honest card."""
        name = self._choose(card, self._names(honest=True))
        self.world.load(self.cards[name], amount)
        self.model.loaded[self.key[name]] += amount

    @precondition(lambda self: self.time_passed)
    @rule()
    def reconcile(self):
        """The issuer refunds what is due, once time passed since it last did."""
        self.time_passed = False
        self._refund_due()

    @rule(card=_pick)
    def revoke(self, card):
        """The CA revokes a card, and the logger serves the new list."""
        name = self._choose(card, self._names())
        key = self.key[name]
        if key in self.revoked or (
            key in self.model.honest and len(self.model.honest) <= MIN_HONEST
        ):
            return
        # A revoked card is the attacker's from now on: its payments settle at its recovery,
        # never by refund, and whoever holds it may keep spending.
        self.model.honest.discard(key)
        self.revoked[key] = self._ltime()
        self.revocations += 1
        ids = sorted(i for i, k in self.key_by_id.items() if k in self.revoked)
        self.world.client.publish_revocation(self.world.revocation(ids, self.revocations))

    @rule(card=_pick)
    def power_cut(self, card):
        """A card loses power: its pending challenges die."""
        self.cards[self._choose(card, self._names())].power_cycle()

    @rule(seconds=_seconds)
    def let_time_pass(self, seconds):
        """Time passes for the logger and every card's running clock alike."""
        self._advance(seconds)

    # --- attacker rules --------------------------------------------------------------------

    @rule(payer=_pick, recipient=_pick, x=_amounts)
    def withhold(self, payer, recipient, x):
        """The relay has the payer sign and keeps the payment."""
        names = self._names()
        payer, recipient = self._choose(payer, names), self._choose(recipient, names)
        try:
            challenge = self.cards[recipient].client.make_challenge(x)
            payment = self.cards[payer].client.pay(challenge)
        except CardError:
            return
        self._signed(payer, payment)
        self.withheld.append((payment, challenge, recipient))
        self.answered.append((payer, challenge, recipient))

    @precondition(lambda self: self.withheld)
    @rule(index=_pick)
    def deliver_withheld(self, index):
        """The relay delivers a payment it kept to its recipient, however late."""
        payment, challenge, recipient = self.withheld[index % len(self.withheld)]
        self._deliver(recipient, payment, challenge)

    @precondition(lambda self: self.withheld)
    @rule(index=_pick, card=_pick, x=_amounts)
    def substitute_withheld(self, index, card, x):
        """A hostile terminal answers a card's new challenge with a payment kept from another."""
        payment, _, recipient = self.withheld[index % len(self.withheld)]
        name = self._choose(card, self._names())
        target = self.cards[name]
        try:
            today = target.client.make_challenge(x)
        except CardError:
            return
        # The honest client sends no ACCEPT for it...
        with pytest.raises(WrongPayment):
            target.client.accept(today, payment)
        # ...and the card refuses it when a hostile terminal names today's challenge.
        with pytest.raises(CardError):
            target.accept_raw(payment, expected=Challenge.decode(today).chall_id)
        # Naming the payment's own challenge, only its recipient can credit it.
        if self._deliver(name, payment):
            assert self.key[name] == self.key[recipient], "credited by a card it does not pay"

    @precondition(lambda self: self.answered)
    @rule(index=_pick, honest=st.booleans(), synced=st.booleans())
    def replay_challenge(self, index, honest, synced):
        """The relay shows an answered challenge to its payer again, choosing one an honest
        card paid, or one an attacker's card paid; perhaps once the payer synced since."""
        answered = [a for a in self.answered if self._honest(a[0]) == honest] or self.answered
        payer, challenge, recipient = answered[index % len(answered)]
        if synced:
            self._sync(payer)
        self._replay(payer, challenge, recipient)

    @precondition(lambda self: self.answered)
    @rule(index=_pick, card=_pick)
    def show_old_challenge(self, index, card):
        """The relay shows a challenge another card answered to a card of its choice."""
        _, challenge, recipient = self.answered[index % len(self.answered)]
        self._replay(self._choose(card, self._names()), challenge, recipient)

    def _replay(self, payer, challenge, recipient):
        card = self.cards[payer]
        asked = Challenge.decode(challenge)
        journal = card.client.journal()
        again = [j for j in journal if Payment.decode(j).answers(asked)]
        before = card.client.info().balance
        try:
            payment = card.client.pay(challenge)
        except CardError:
            return
        if again:
            # A retried challenge never debits twice.
            assert payment == again[0] and card.client.info().balance == before
            return
        self._signed(payer, payment)
        self.withheld.append((payment, challenge, recipient))

    @rule(card=_pick, rtt=st.integers(0, 2**32 - 1))
    def bystander_reencodes(self, card, rtt):
        """A bystander reads a card's outbox, changes the RTT and submits the record first."""
        client = self.cards[self._choose(card, self._names())].client
        if not client.info().outbox:
            return
        variant = LogRecord.decode(client.read_outbox(0))
        variant.rtt = rtt
        try:
            self.world.client.submit(variant.encode())
        except LoggerError:
            pass  # Refused as the original would be: nothing to the bystander.

    @precondition(
        lambda self: len({s.identity for s in self.model.signed.values()}) < len(self.model.signed)
    )
    @rule(index=_pick)
    def bystander_swaps_the_payment(self, index):
        """A bystander who holds a second payment for a challenge (two copies answered it, or
        a payer signed it again) puts it into the recipient's record and submits that first."""
        chances = []
        for name in self._names():
            for record in self.cards[name].client.outbox():
                variant = LogRecord.decode(record)
                identity = payment_identity(variant.payment)
                for other, signed in self.model.signed.items():
                    if signed.identity == identity and signed.counter != variant.payment.counter:
                        chances.append((variant, other))
        if not chances:
            return
        variant, other = chances[index % len(chances)]
        variant.payment = Payment.decode(other)
        try:
            self.world.client.submit(variant.encode())
        except LoggerError:
            pass  # The recipient's own record reached the logger first.

    @precondition(lambda self: self.withheld)
    @rule(index=_pick)
    def upload_withheld(self, index):
        """Anyone may upload a payment it holds, which starts its refund delay."""
        self.world.client.upload_journal([self.withheld[index % len(self.withheld)][0]])

    @rule(card=_pick)
    def clone(self, card):
        """Whoever reads a board's flash copies its state onto another board."""
        name = self._choose(card, self._names())
        key = self.key[name]
        if len(self.cards) >= MAX_CARDS:
            return
        if key in self.model.honest and len(self.model.honest) <= MIN_HONEST:
            return
        source = self.cards[name]
        info = source.client.info()
        copy_name = "%s~%d" % (name.split("~")[0], next(self.names))
        self._register(copy_name, clone_of(self.world, source, copy_name.encode()))
        self.model.honest.discard(key)
        self.model.copies.append((key, info.balance, info.issued))

    @rule(payer=_pick, recipient=_pick, x=_amounts)
    def attacker_spends(self, payer, recipient, x):
        """A copy, a revoked card or the attacker's own card pays an honest card."""
        payer = self._choose(payer, self._names(honest=False))
        self._transfer(payer, self._choose(recipient, self._names(honest=True)), x)

    @precondition(lambda self: self.revoked)
    @rule(payer=_pick, recipient=_pick, x=_amounts)
    def revoked_card_spends(self, payer, recipient, x):
        """Whoever holds a revoked card keeps paying honest cards with it."""
        names = [n for n in self._names() if self.key[n] in self.revoked]
        self._transfer(self._choose(payer, names), self._choose(recipient, self._names(True)), x)

    @precondition(lambda self: any(len(self._copies(k)) > 1 for k in self.key.values()))
    @rule(card=_pick, recipient=_pick, x=_amounts)
    def both_copies_answer(self, card, recipient, x):
        """The relay shows an honest card's challenge to two copies: one payment is delivered,
        one kept."""
        keys = sorted({k for k in self.key.values() if len(self._copies(k)) > 1})
        first, second = self._copies(keys[card % len(keys)])[:2]
        recipient = self._choose(recipient, self._names(honest=True))
        try:
            challenge = self.cards[recipient].client.make_challenge(x)
            delivered = self.cards[first].client.pay(challenge)
            kept = self.cards[second].client.pay(challenge)
        except CardError:
            return
        self._signed(first, delivered)
        self._signed(second, kept)
        self.withheld.append((kept, challenge, recipient))
        self._deliver(recipient, delivered, challenge)

    def _copies(self, key):
        return sorted(n for n, k in self.key.items() if k == key)

    @rule(card=_pick)
    def attacker_syncs(self, card):
        """The attacker syncs its cards when it likes (a fresh stamp to spend with)."""
        name = self._choose(card, self._names(honest=False))
        self._sync(name)

    # --- the checks ------------------------------------------------------------------------

    @invariant()
    def money_rules_hold(self):
        self._check_money()

    def teardown(self):
        try:
            self._settle_everything()
            self._check_money()
            self._check_final()
        finally:
            self.world.close()
            self.dispose()

    def _settle_everything(self):
        for name in self._names():
            self._sync(name)
        self._advance(SETTLE)
        self._refund_due()
        for name in self._names():
            self._sync(name)

    def _check_final(self):
        states = {}
        for ref, signed in self.model.signed.items():
            if signed.payer in self.model.honest:
                (result,) = self.world.client.upload_journal([ref])
                assert result["status"] == 200, result
                states[ref] = result["state"]
        check_settlement(self.model, states)
        balances = {}
        for name in self._names(honest=True):
            info = self.cards[name].client.info()
            balances[name] = (info.balance, self.world.client.card(info.card_id)["balance"])
        check_ledger(balances)
        tables = ("leaves", "payments")
        held = [
            (bytes(row[0]).hex(), int(row[1]), bytes(row[2]))
            for table in tables
            for row in self.world.storage.all(
                # The challenge's identity: a leaf of a payer's second amount for a challenge
                # is stored under the payment's key, which begins with it.
                "SELECT payer_id, counter, substr(identity, 1, 73) FROM %s"  # noqa: S608
                % table
            )
        ]
        check_clone_evidence(held, self.world.client.alerts()["evidence"])


# --- the databases ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """`new()` gives a fresh logger database's URL and a function that disposes of it."""
    if request.param == "sqlite":
        numbers = itertools.count()

        def new():
            path = tmp_path / ("log%d.db" % next(numbers))
            return "sqlite:///%s" % path, lambda: path.unlink(missing_ok=True)

        yield new
        return

    def new():
        url, schema = postgres_url()
        return url, lambda: drop_schema(schema)

    yield new


def test_the_money_rules_hold_against_the_attacker(database):
    class Machine(AdversarialPurse):
        new_database = staticmethod(database)

    run_state_machine_as_test(Machine, settings=SETTINGS)


# --- the checks fail on violations ----------------------------------------------------------

A_KEY, B_KEY, M_KEY = b"A" * 33, b"B" * 33, b"M" * 33


def _model():
    """A consistent situation: A (honest, loaded 1000) paid B (honest) 300; M (the attacker's,
    loaded 500) paid B 200; A paid M 100, which M credited."""
    model = Model()
    model.honest = {A_KEY, B_KEY}
    model.loaded = {A_KEY: 1000, B_KEY: 0, M_KEY: 500}
    for ref, payer, x, counter, recipient in (
        (b"a->b", A_KEY, 300, 1, B_KEY),
        (b"m->b", M_KEY, 200, 1, B_KEY),
        (b"a->m", A_KEY, 100, 2, M_KEY),
    ):
        model.signed[ref] = Signed(payer, x, payer + ref, counter, payer + ref)
        model.credits[ref] = [recipient]
    return model


def test_the_checks_pass_on_a_consistent_situation():
    model = _model()
    check_value_backed(model, on_cards=600 + 500, owed=0, due={})
    check_attacker_gain(model, due={}, issued={A_KEY: 1000, B_KEY: 0, M_KEY: 500})
    check_no_honest_overspender({"overspend": [{"card_id": "4d"}]}, ["41", "42"])
    check_settlement(model, {b"a->b": "logged", b"a->m": "logged"})
    check_ledger({"A": (600, 600)})
    evidence = [{"kind": "counter-reuse", "payer_id": "4d"}]
    check_clone_evidence([("4d", 1, b"x"), ("4d", 1, b"y"), ("41", 1, b"z")], evidence)


def test_value_backing_fails_on_a_double_credit():
    model = _model()
    # A's payment to B was credited and refunded too: A holds 300 more than it was given.
    model.refunds[A_KEY + b"a->b"] = [(A_KEY, 300)]
    with pytest.raises(AssertionError, match="backed by"):
        check_value_backed(model, on_cards=900 + 500, owed=0, due={})
    # The same refund signed and not loaded yet, or listed as due, counts as well.
    with pytest.raises(AssertionError, match="backed by"):
        check_value_backed(_model(), on_cards=600 + 500, owed=300, due={})
    with pytest.raises(AssertionError, match="backed by"):
        check_value_backed(_model(), 600 + 500, 0, {A_KEY + b"a->b": (A_KEY, 300)})


def test_the_attacker_gain_fails_beyond_its_bound():
    model = _model()
    # M paid B 700 more with nothing behind it, and no copy of M was ever made.
    model.signed[b"m->b 2"] = Signed(M_KEY, 700, M_KEY + b"2", 2, M_KEY + b"2")
    model.credits[b"m->b 2"] = [B_KEY]
    with pytest.raises(AssertionError, match="copies were made with 0"):
        check_attacker_gain(model, due={}, issued={A_KEY: 1000, M_KEY: 500})
    # A copy of M made with 700 explains it; P x N caps it all the same.
    model.copies.append((M_KEY, 700, 500))
    check_attacker_gain(model, due={}, issued={A_KEY: 1000, M_KEY: 500})
    model.copies.append((M_KEY, 10 * P, 500))
    model.signed[b"m->b 3"] = Signed(M_KEY, 5 * P, M_KEY + b"3", 3, M_KEY + b"3")
    model.credits[b"m->b 3"] = [B_KEY]
    with pytest.raises(AssertionError, match="payments of at most"):
        check_attacker_gain(model, due={}, issued={A_KEY: 1000, M_KEY: 500})


def test_an_honest_overspender_fails():
    with pytest.raises(AssertionError, match="overspend"):
        check_no_honest_overspender({"overspend": [{"card_id": "42"}]}, ["41", "42"])


def test_settlement_fails_on_lost_double_or_twice_credited_payments():
    model = _model()
    model.signed[b"torn"] = Signed(A_KEY, 50, A_KEY + b"torn", 3, A_KEY + b"torn")
    with pytest.raises(AssertionError, match=r"credited 0 times, refunds \[0\]"):
        check_settlement(model, {b"a->b": "logged", b"a->m": "logged", b"torn": "in-doubt"})
    model = _model()
    model.refunds[A_KEY + b"a->b"] = [(A_KEY, 300)]
    with pytest.raises(AssertionError, match=r"credited 1 times, refunds \[1\]"):
        check_settlement(model, {b"a->b": "refunded", b"a->m": "logged"})
    model = _model()
    model.credits[b"a->b"].append(B_KEY)
    with pytest.raises(AssertionError, match="credited 2 times"):
        check_settlement(model, {b"a->b": "logged", b"a->m": "logged"})
    model = _model()
    model.refunds[A_KEY + b"a->m"] = [(A_KEY, 100), (A_KEY, 100)]
    with pytest.raises(AssertionError, match=r"refunds \[2\]"):
        check_settlement(model, {b"a->b": "logged", b"a->m": "refunded"})
    # A challenge signed twice (a replay): one payment logged and the other refunded is right;
    # both logged (the challenge credited twice) is not, nor the second left in doubt.
    model = _model()
    model.signed[b"again"] = Signed(A_KEY, 300, A_KEY + b"a->b", 9, A_KEY + b"again")
    model.refunds[A_KEY + b"again"] = [(A_KEY, 300)]
    check_settlement(model, {b"a->b": "logged", b"a->m": "logged", b"again": "refunded"})
    with pytest.raises(AssertionError, match=r"states \['logged', 'logged'\]"):
        check_settlement(model, {b"a->b": "logged", b"a->m": "logged", b"again": "logged"})
    del model.refunds[A_KEY + b"again"]
    with pytest.raises(AssertionError, match=r"states \['logged', 'in-doubt'\]"):
        check_settlement(model, {b"a->b": "logged", b"a->m": "logged", b"again": "in-doubt"})


def test_the_ledger_and_evidence_checks_fail():
    with pytest.raises(AssertionError, match="disagree"):
        check_ledger({"A": (600, 600), "B": (500, 0)})
    with pytest.raises(AssertionError, match="without evidence"):
        check_clone_evidence([("4d", 1, b"x"), ("4d", 1, b"y"), ("41", 1, b"z")], [])


# --- product bugs the machine found ---------------------------------------------------------


@pytest.fixture
def world(database):
    url, dispose = database()
    w = make_world(url)
    yield w
    w.close()
    dispose()


def _name(card):
    return card.client.info().card_id


def test_bug_a_challenge_replayed_after_the_stamp_is_refunded(world):
    w = world
    a, b = w.new_card(b"A", 3000), w.new_card(b"B")
    challenge = b.client.make_challenge(500)
    b.client.accept(challenge, a.client.pay(challenge))
    w.client.sync(b.client)
    w.client.sync(a.client)  # The stamp covers the payment: it leaves A's journal.
    a.client.pay(challenge)  # A relay replays the challenge: A signs and debits again.
    assert a.client.info().balance == 2000
    report = w.client.sync(a.client)
    # Section 7.1: the second payment is in doubt and refunded after the delay. (Before the
    # payment key, the logger took it for the first, never stored its counter, and never
    # stamped A again.)
    assert report.stamped, report.stamp_refused
    w.advance(SETTLE)
    assert [p["amount"] for p in w.client.in_doubt(_name(a)) if p["due"]] == [500]


def test_bug_a_revoked_payers_payment_accepted_by_the_rules_is_credited(world):
    w = world
    v, d, e, h = (w.new_card(n, x) for n, x in ((b"V", 3000), (b"D", 0), (b"E", 100), (b"H", 0)))
    # V's last stamp is from now, T, when the logger learns of its revocation.
    w.client.publish_revocation(w.revocation([_name(v)], sequence=1))
    w.advance(WINDOW - 1)
    w.client.sync(e.client)  # E syncs at T + 59; D has not synced since before T.
    w.transfer(e, d, 10)  # D's L-time runs ahead to T + 59 with E's stamp.
    w.advance(2)  # T + 61: the logger closed V.
    w.transfer(v, d, 1000)  # V's stamp (T) is within D's window at D's L-time: D credits it.
    report = w.client.sync(d.client)
    w.transfer(d, h, 1000)  # D spends what it was paid, before its outbox entry ages.
    w.client.sync(h.client)
    # Section 7.3: the issuer bears what a revoked card spends before recipients refuse it.
    # (Before, D's record was refused, its ledger fell 1000 short, and D was named an
    # overspender, and D's card stopped trading a window later.)
    named = _name(d).hex() in {o["card_id"] for o in w.client.alerts()["overspend"]}
    assert (report.refused, named) == ([], False)


def test_bug_a_second_payment_for_one_challenge_cannot_brick_the_recipient(world):
    w = world
    a, b = w.new_card(b"A", 3000), w.new_card(b"B")
    challenge = b.client.make_challenge(500)
    b.client.accept(challenge, a.client.pay(challenge))
    # The payer signs a second payment for the challenge: here with honest firmware, through
    # the replay above; a clone or modified firmware needs no replay.
    w.client.sync(a.client)
    second = a.client.pay(challenge)
    # A bystander reads B's outbox, puts the second payment in, and submits it first.
    variant = LogRecord.decode(b.client.read_outbox(0))
    variant.payment = Payment.decode(second)
    with pytest.raises(LoggerError) as refused:  # B's signature is for the payment it took.
        w.client.submit(variant.encode())
    assert refused.value.status == 422
    # Section 7.0: B's own record must still be received. (Before, it was refused for good: B
    # could no longer trade once its window passed, and had to be recovered.)
    report = w.client.sync(b.client)
    assert report.refused == [] and b.client.info().outbox == 0
    # The challenge is credited once: B's ledger is its card, and A is refunded the payment
    # no leaf holds (it signed 500 twice, B credited 500 once).
    assert w.client.card(_name(b))["balance"] == b.client.info().balance == 500
    w.client.sync(a.client)
    w.advance(SETTLE)
    assert [p["amount"] for p in w.client.in_doubt(_name(a)) if p["due"]] == [500]


def test_bug_an_honest_card_spending_an_unlogged_credit_is_no_overspender(world):
    w = world
    a, b, c = w.new_card(b"A", 1000), w.new_card(b"B"), w.new_card(b"C")
    w.transfer(a, b, 500)  # B credits 500, to be logged at its next sync.
    w.transfer(b, c, 500)  # B spends it within its window, as the rules allow.
    w.client.sync(c.client)  # C logs first.
    # Section 7.3: the alert names a card whose copies spent more than it was given, and the
    # CA then revokes it. B spent only what it was given. (Before, it was named until it
    # synced.)
    assert _name(b).hex() not in {o["card_id"] for o in w.client.alerts()["overspend"]}


def test_bug_counter_reuse_is_evidenced_whichever_copy_reaches_the_logger_first(world):
    w = world
    a, b, c = w.new_card(b"A", 1000), w.new_card(b"B"), w.new_card(b"C")
    copy = clone_of(w, a, b"A2")
    torn = a.client.pay(b.client.make_challenge(800))
    w.client.upload_journal([torn])  # The original's payment reaches L in its journal...
    w.transfer(copy, c, 800)  # ...the copy's, with the same counter, as C's record.
    assert w.client.sync(c.client).receipted == 1
    # Section 7.3: evidence as soon as two of them reach L. (Before, there was none: the
    # appender compared counters with leaves only.)
    kinds = [e["kind"] for e in w.client.alerts()["evidence"]]
    assert kinds == ["counter-reuse"]
