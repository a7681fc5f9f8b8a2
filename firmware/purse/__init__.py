"""icpurse portable core: records, checks and state machines shared by card, emulator and host.

Every module in this package runs on MicroPython (the oldest supported release is named in
docs/HARDWARE.md) and on CPython. It does no I/O and reads no clock or RNG: time and randomness
are passed in by the caller.
"""

VERSION = "0.1.0"
