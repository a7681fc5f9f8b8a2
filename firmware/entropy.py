"""The card's randomness: several weak sources mixed through SHA-256 into a pool.

ESP32's os.urandom is only truly random with the radio on and the RP2040 has no hardware RNG
(DESIGN.md section 11), so no single source is trusted: every draw hashes the pool, a counter,
os.urandom, and the timer's low bits; the pool is updated from a separate hash, so an output
never reveals the next. An emulated card can be given a fixed seed instead, for reproducible
runs; then os.urandom and the timer are left out on purpose.
"""

import hashlib

try:
    import os

    _urandom = os.urandom
except (ImportError, AttributeError):
    _urandom = None

try:
    import time

    _ticks = time.ticks_us
except (ImportError, AttributeError):
    try:
        import time

        _ticks = time.perf_counter_ns
    except (ImportError, AttributeError):
        _ticks = None


class Entropy:
    def __init__(self, seed=None):
        self._fixed = seed is not None
        self._pool = hashlib.sha256(b"icpurse/entropy" + (seed or b"")).digest()
        self._counter = 0

    def _stir(self):
        h = hashlib.sha256(self._pool)
        h.update(self._counter.to_bytes(8, "big"))
        if not self._fixed:
            if _urandom is not None:
                h.update(_urandom(32))
            if _ticks is not None:
                h.update((_ticks() & 0xFFFFFFFF).to_bytes(4, "big"))
        return h.digest()

    def __call__(self, n):
        """n random bytes."""
        out = b""
        while len(out) < n:
            self._counter += 1
            mixed = self._stir()
            out += hashlib.sha256(b"out" + mixed).digest()
            self._pool = hashlib.sha256(b"pool" + mixed).digest()
        return out[:n]
