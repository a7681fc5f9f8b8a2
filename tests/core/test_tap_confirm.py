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
