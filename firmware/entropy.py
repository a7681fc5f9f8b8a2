"""The card's randomness: several weak sources mixed through SHA-256 into a pool.

ESP32's os.urandom is only truly random with the radio on and the RP2040 has no hardware RNG
(docs/DESIGN.md section 13), so no single source is trusted: every draw hashes the pool, a counter,
os.urandom, and the timer's low bits; the pool is updated from a separate hash, so an output
never reveals the next. An emulated card can be given a fixed seed instead, for reproducible
runs; then os.urandom and the timer are left out on purpose.

The pool also outlives a boot: at boot `reseed` mixes in the seed file the last boot left and
writes a fresh one before anything is drawn, so two boots never start from the same pool even
where os.urandom and the timer give the same values at every boot. The file lives in the card's
directory (the board's root, an emulated card's state directory), beside the store rather than
in it: the store's garbage collection removes every file the card state does not reference.
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


# The seed file, relative to the card's directory (the current directory of the wallet).
SEED_FILE = "entropy.seed"


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

    def reseed(self, backend, name=SEED_FILE):
        """Mix the seed stored as `name` in `backend` (a cardfs.FileBackend of the card's
        directory) into the pool, then replace it with a fresh one; a board calls it at boot,
        before the first draw. Without a stored seed (the first boot) the pool is only stirred.
        """
        if self._fixed:
            return  # A fixed seed stands for reproducible runs: nothing stored may change them.
        stored = backend.read(name)
        self._pool = hashlib.sha256(b"seed" + self._pool + bytes(stored or b"")).digest()
        # The next boot's seed is one draw of this pool, which is updated from a separate hash
        # afterwards, so the file reveals nothing of what this boot draws later. It is written
        # beside the old seed and renamed over it: a power cut in the middle leaves one seed or
        # the other, never none.
        backend.write(name + ".new", self(32))
        backend.rename(name + ".new", name)
