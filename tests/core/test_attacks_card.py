"""Attacks of issue 20 that the cards themselves must stop, whatever the terminal and the payer
do: a payment substituted for another challenge's, a withheld payment delivered after its
challenge's lifetime or after a restart, and an amount over the issuer's payment cap from a
payer that does not enforce it. Each card is the firmware's own Card and Applet, driven through
APDUs; a hostile terminal sends ACCEPT without the client's checks (TestCard.accept_raw).
"""

from _cards import World
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
    big = Payment.answering(challenge, 7, a.card.certificate(), a.card.voucher())
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
