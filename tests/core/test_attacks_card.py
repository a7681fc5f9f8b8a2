"""Attacks of issue 20 that the cards themselves must stop, whatever the terminal and the payer
do: a payment substituted for another challenge's, a withheld payment delivered after its
challenge's lifetime or after a restart, and an amount over the issuer's payment cap from a
payer that does not enforce it. Each card is the firmware's own Card and Applet, driven through
APDUs; a hostile terminal sends ACCEPT without the client's checks (TestCard.accept_raw).
"""

from _cards import WINDOW, World
from _check import raises

from purse import proto
from purse.client import CardError, WrongPayment
from purse.crypto.backend import Signer
from purse.records.transfer import Challenge, Payment


def _refused(sw, call, *args):
    with raises(CardError) as caught:
        call(*args)
    assert caught.value.sw == sw, "%04X instead of %04X" % (caught.value.sw, sw)


def test_attack_2_payment_substitution_at_a_tap():
    world = World()
    a, b = world.new_card(b"A", 10000), world.new_card(b"B")
    # The payer answers an earlier challenge for 1 and withholds the payment...
    small = b.client.make_challenge(1)
    withheld = a.client.pay(small)
    # ...then answers today's challenge for 500 with it.
    today = b.client.make_challenge(500)
    with raises(WrongPayment):
        b.client.accept(today, withheld)
    # A terminal that skips the check and names today's challenge gets a refusal from the card.
    _refused(proto.SW_CHALLENGE_UNKNOWN, b.accept_raw, withheld, Challenge.decode(today).chall_id)
    assert b.client.info().balance == 0
    # The honest payment for today's challenge is credited, and the card says how much.
    assert b.client.accept(today, a.client.pay(today)) == (500, 500)


def test_attack_3_withheld_payment_is_refused_after_the_challenge_lifetime():
    world = World()
    a, b = world.new_card(b"A", 10000), world.new_card(b"B")
    challenge = b.client.make_challenge(300)
    withheld = a.client.pay(challenge)
    b.ms += proto.CHALLENGE_TTL_MS + 1
    _refused(proto.SW_CHALLENGE_UNKNOWN, b.client.accept, challenge, withheld)
    assert b.client.info().balance == 0
    # Inside the lifetime it is credited.
    challenge = b.client.make_challenge(300)
    payment = a.client.pay(challenge)
    b.ms += proto.CHALLENGE_TTL_MS
    assert b.client.accept(challenge, payment) == (300, 300)


def test_attack_3_pending_challenges_do_not_survive_a_restart():
    world = World()
    a, b = world.new_card(b"A", 10000), world.new_card(b"B")
    challenge = b.client.make_challenge(300)
    withheld = a.client.pay(challenge)
    b.power_cycle()
    _refused(proto.SW_CHALLENGE_UNKNOWN, b.client.accept, challenge, withheld)
    assert b.client.info().balance == 0


def test_attack_5_recipient_enforces_the_payment_cap():
    world = World(balance_cap=100000, payment_cap=20000, unlogged_cap=100000)
    a, b = world.new_card(b"A", 90000), world.new_card(b"B")
    # A payer with modified firmware ignores the cap and signs, with its own key, whatever
    # amount the recipient asks for. The recipient must not ask for more than the cap, nor
    # credit it: the attack is refused at one step or the other, and nothing moves.
    try:
        challenge = Challenge.decode(b.client.make_challenge(50000))
    except CardError as exc:
        assert exc.sw == proto.SW_LIMIT
        return
    big = Payment.answering(challenge, 1, a.card.certificate(), a.card.voucher(), a.card.stamp())
    big.sign(Signer(world.backend, a.card.state.secret))
    _refused(proto.SW_LIMIT, b.accept_raw, big.encode())
    assert b.client.info().balance == 0


def test_attack_5_recipient_refuses_an_amount_over_its_cap_it_was_asked_for():
    # The recipient's risk parameters are the issuer's: a card personalised with a lower cap
    # refuses a payment that a card with an older, higher cap would have asked for.
    world = World(payment_cap=20000)
    a = world.new_card(b"A", 50000)
    b = world.new_card(b"B")
    challenge = b.client.make_challenge(15000)
    payment = a.client.pay(challenge)
    b.client.install_risk(world.risk_parameters(100000, 10000, 50000))
    _refused(proto.SW_LIMIT, b.client.accept, challenge, payment)
    assert b.client.info().balance == 0


def test_attack_5_a_payer_that_never_syncs_is_refused_a_window_later():
    world = World()
    a, b, c = world.new_card(b"A", 10000), world.new_card(b"B"), world.new_card(b"C", 100)
    world.transfer(a, b, 100)  # A's stamp is fresh.
    # A window passes; C syncs (its stamp is new) and pays B, which learns the time from it.
    world.ltime += WINDOW + 1
    world.stamp(c)
    world.transfer(c, b, 10)
    assert b.client.info().ltime == world.ltime
    # B's own log of A's first payment is now older than its window: B syncs it.
    for record in b.client.outbox():
        b.client.take_receipt(world.receipt_for(record))
    # A never synced: B refuses it, whatever A's own clock says.
    challenge = b.client.make_challenge(100)
    payment = a.client.pay(challenge)
    _refused(proto.SW_STALE_PAYER, b.client.accept, challenge, payment)
    assert b.client.info().balance == 110
    # After a sync A is paid again.
    world.stamp(a)
    challenge = b.client.make_challenge(100)
    assert b.client.accept(challenge, a.client.pay(challenge)) == (100, 210)


def test_attack_5_a_revoked_card_is_refused_offline_once_its_stamp_is_stale():
    # The logger gives a revoked card no stamp (tests/host/test_attacks.py); a recipient that
    # never got the revocation list refuses it once its last stamp is older than the window.
    world = World()
    v, b, c = world.new_card(b"V", 10000), world.new_card(b"B"), world.new_card(b"C", 100)
    world.ltime += WINDOW + 1
    world.stamp(c)
    world.transfer(c, b, 10)
    challenge = b.client.make_challenge(500)
    _refused(proto.SW_STALE_PAYER, b.client.accept, challenge, v.client.pay(challenge))


def test_attack_7_the_journal_keeps_what_the_logger_has_not_acknowledged():
    world = World()
    a, b = world.new_card(b"A", 10000), world.new_card(b"B")
    torn = []
    for _ in range(proto.JOURNAL_MAX):
        torn.append(a.client.pay(b.client.make_challenge(10)))  # B never hears back.
    # The journal is full: the card refuses to sign more, rather than drop an entry unseen.
    _refused(proto.SW_JOURNAL_FULL, a.client.pay, b.client.make_challenge(10))
    assert a.client.journal() == torn
    # A stamp acknowledges the first ten: those leave the journal, the rest stay.
    world.stamp(a, counter=10)
    assert a.client.journal() == torn[10:]
    # A stamp for a counter the card has not reached, or older than the one it holds, is
    # refused.
    _refused(proto.SW_SECURITY, a.client.take_stamp, world.stamp_for(a, counter=99))
    _refused(proto.SW_WRONG_STATE, a.client.take_stamp, world.stamp_for(a, counter=5))
    a.client.pay(b.client.make_challenge(10))


def test_a_card_takes_no_stamp_while_it_holds_unreceipted_records():
    """A hostile reader with a stamp anyone could ask L for must not make a card look synced
    while L has not logged what it was paid (the overspend alert would then name it)."""
    world = World()
    a, b = world.new_card(b"A", 1000), world.new_card(b"B")
    world.transfer(a, b, 100)
    _refused(proto.SW_MUST_SYNC, b.client.take_stamp, world.stamp_for(b))
    for record in b.client.outbox():
        b.client.take_receipt(world.receipt_for(record))
    b.client.take_stamp(world.stamp_for(b))


def test_attack_7_an_old_challenge_replayed_is_never_credited():
    world = World()
    a, b = world.new_card(b"A", 10000), world.new_card(b"B")
    challenge = b.client.make_challenge(300)
    first = a.client.pay(challenge)
    assert b.client.accept(challenge, first) == (300, 300)
    # Inside the journal a replay gets the same payment and no new debit.
    assert a.client.pay(challenge) == first and a.client.info().balance == 9700
    # Once the logger acknowledged it, a replay is a new payment (debited, journalled): the
    # recipient's challenge is used, so it is never credited, and the payer is refunded.
    world.stamp(a)
    again = a.client.pay(challenge)
    assert again != first and a.client.info().balance == 9400
    _refused(proto.SW_CHALLENGE_UNKNOWN, b.client.accept, challenge, again)
    assert b.client.info().balance == 300
