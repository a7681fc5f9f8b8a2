"""The board's running clock: milliseconds since boot that never go back and never wrap.

The card times one thing with it, how long a pending challenge lives (docs/PROTOCOL.md sections
6 and 7.0); the portable core reads no clock itself, so the board glue hands it this one.
MicroPython's ticks_ms wraps around (after about 12 days on most ports), so the clock adds up
the differences between readings, which ticks_diff gives correctly across a wrap as long as
readings are less than half a period apart; a challenge is looked at well inside that.
CPython's monotonic clock never wraps.
"""

import time


class RunningClock:
    def __init__(self):
        self._ticks = getattr(time, "ticks_ms", None)
        if self._ticks is None:
            self._start = time.monotonic()
        else:
            self._last = self._ticks()
            self._total = 0

    def __call__(self):
        if self._ticks is None:
            return int((time.monotonic() - self._start) * 1000)
        now = self._ticks()
        self._total += time.ticks_diff(now, self._last)
        self._last = now
        return self._total
