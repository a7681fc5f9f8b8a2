"""The holder's confirmation of a tap (purse.tap.Armed), attack 9 of the security review
(issue 20): a rogue reader must not drain a card through the board's automatic confirmation,
and an amount armed with the button must not wait for a reader forever."""

from purse import tap

# MicroPython's ticks_ms wraps around at 2**30 on most ports; the fake clock does the same, so
# an expiry measured by subtraction instead of ticks_diff would fail here.
_PERIOD = 1 << 30


class FakeClock:
    """A ticks_ms/ticks_diff pair that a test moves by hand."""

    def __init__(self, now=0):
        self.now = now % _PERIOD

    def advance(self, ms):
        self.now = (self.now + ms) % _PERIOD

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return ((a - b + _PERIOD // 2) & (_PERIOD - 1)) - _PERIOD // 2


def test_attack_9_auto_confirm_has_cumulative_cap():
    # The rogue reader's attack: eight payments of 1000 from a card whose board confirms up to
    # 1000 by itself. The default cap is twice the limit, so the third needs the button.
    armed = tap.Armed(1000)
    confirmed = [armed(1000, None) for _ in range(8)]
    assert not all(confirmed)
    assert confirmed == [True, True, False, False, False, False, False, False]
    # Smaller amounts count too: the running sum is full, so even 1 is declined now.
    assert not armed(1, None)
    # A press (arm) confirms its own amount and starts a new running sum.
    armed.arm(1000)
    assert armed(1000, None)
    assert [armed(600, None) for _ in range(4)] == [True, True, True, False]
    # A board may set its own cap; 0 turns automatic confirmation off altogether.
    capped = tap.Armed(1000, auto_cap=1500)
    assert [capped(1000, None), capped(500, None), capped(1, None)] == [True, True, False]
    off = tap.Armed(1000, auto_cap=0)
    assert not off(1, None)


def test_attack_9_armed_amount_expires():
    clock = FakeClock(_PERIOD - 1000)  # The clock wraps around while the amount is armed.
    armed = tap.Armed(0, ticks_ms=clock.ticks_ms, ticks_diff=clock.ticks_diff)
    armed.arm(500)
    clock.advance(59999)
    assert armed(500, None)  # Within the default 60 s.
    armed.arm(500)
    clock.advance(60001)
    assert not armed(500, None)  # Too late: the reader that comes now gets nothing.
    # The expiry is the board's setting.
    short = tap.Armed(0, expiry_ms=1000, ticks_ms=clock.ticks_ms, ticks_diff=clock.ticks_diff)
    short.arm(200)
    clock.advance(1001)
    assert not short(200, None)
    short.arm(200)
    clock.advance(999)
    assert short(200, None)


def test_a_bystander_gets_one_guess_at_the_armed_amount():
    """Before, a payment of another amount left the armed one in place: a reader in the field
    could try 1, 2, 3, ... until it was paid, thousands of tries within the 60 s."""
    armed = tap.Armed(0)
    armed.arm(4321)
    assert not armed(4320, None)
    assert not armed(4321, None)  # The press was spent on the wrong guess.
    armed.arm(4321)
    assert not armed.admits(1)  # Asking is a try too.
    assert not armed(4321, None)
    armed.arm(4321)
    assert armed.admits(4321) and armed.admits(4321)  # Asking the right amount keeps it...
    assert armed(4321, None)  # ...for the payment itself.
    assert not armed(4321, None)


def test_automatic_confirmation_takes_a_few_payments_between_presses():
    """Payments of 1 fit any cumulative cap: before, a bystander could have a card confirm
    enough of them to fill its journal, which stops the holder's own payments until a sync."""
    armed = tap.Armed(10)
    assert [armed(1, None) for _ in range(tap.Armed.AUTO_COUNT + 2)] == (
        [True] * tap.Armed.AUTO_COUNT + [False, False]
    )
    armed.arm(500)
    assert armed(500, None) and armed(1, None)


def test_a_payment_no_one_approved_is_refused_alike_whatever_the_balance():
    """Before, a card checked the cap and the balance before asking its holder: a reader in
    the field read 9402 (over the cap), 9401 (over the balance) or 9406 (declined) for
    made-up amounts, and found the exact balance in some fourteen PAYs, with no press."""
    from _cards import World

    from purse import proto
    from purse.client import CardClient, CardError

    world = World()
    armed = tap.Armed(0)
    # The payer's own cap (15000) is below the recipient's (20000), whose challenges go to it.
    risk = world.risk_parameters(100000, 15000, 50000)
    payer = world.new_card(b"P", 12345, confirm=armed, risk=risk)
    recipient = world.new_card(b"R")
    peer = CardClient(payer.applet.process_remote)
    peer.select()
    for x in (1, 12345, 12346, 14999, 15001, 20000):
        challenge = recipient.client.make_challenge(x, proto.SEAL_ENCRYPTED)
        try:
            peer.pay(challenge)
        except CardError as exc:
            assert exc.sw == proto.SW_DECLINED, (x, hex(exc.sw))
        else:
            raise AssertionError("an unarmed card paid %d" % x)
    # Once the holder approves an amount, its refusal may say why: the holder asked for it.
    armed.arm(12346)
    challenge = recipient.client.make_challenge(12346, proto.SEAL_ENCRYPTED)
    try:
        peer.pay(challenge)
    except CardError as exc:
        assert exc.sw == proto.SW_FUNDS
    else:
        raise AssertionError("a card paid more than its balance")
    assert payer.client.info().balance == 12345
