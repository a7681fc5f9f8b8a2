"""Faults injected into a card's store: the power cut of a test or of an emulated card
(`icpurse emulate --cut-at`), and the MemoryError of a fragmented heap (`--memory-error-at`).

Apart from purse.store so that a board, which never injects a fault, does not hold it in its
heap; the wallet imports it only when its configuration asks for a fault.
"""

from purse.store import PowerCut


class FaultPoint:
    """A backend wrapper that counts the mutating operations and cuts the power at one of them.

    Every write, rename and remove adds one to `ops`. With `cut_at=N` the operation that brings
    `ops` to N or beyond is the power cut, and raises PowerCut:
      - a cut write leaves a torn file: the first half (rounded down) of the data;
      - a cut rename or remove does nothing (both are atomic on the file systems we support).
    From then on every operation, reads included, raises PowerCut until restore() brings the
    power back. Set `cut_at` at any time to arm a cut, e.g. `fp.cut_at = fp.ops + 3`.

    With `memory_at=N` the operation that brings `ops` to N raises MemoryError instead, once and
    before it does anything: the fault a fragmented heap gives in the middle of a commit.
    """

    def __init__(self, backend, cut_at=None, memory_at=None):
        self.backend = backend
        self.cut_at = cut_at
        self.memory_at = memory_at
        self.ops = 0
        self.down = False

    def restore(self):
        """Power back on: operations pass through again; counting continues; no cut is armed."""
        self.down = False
        self.cut_at = None

    def _powered(self):
        if self.down:
            raise PowerCut("the power is off")

    def _cut_now(self):
        # Counts one mutating operation and reports whether it is the one that loses power.
        self._powered()
        self.ops += 1
        if self.memory_at is not None and self.ops >= self.memory_at:
            self.memory_at = None
            raise MemoryError("memory allocation failed (emulated at operation %d)" % self.ops)
        if self.cut_at is not None and self.ops >= self.cut_at:
            self.down = True
            return True
        return False

    def read(self, name):
        self._powered()
        return self.backend.read(name)

    def names(self):
        self._powered()
        return self.backend.names()

    def write(self, name, data):
        if self._cut_now():
            self.backend.write(name, data[: len(data) // 2])
            raise PowerCut("power cut at operation %d: write of %r torn" % (self.ops, name))
        self.backend.write(name, data)

    def rename(self, old, new):
        if self._cut_now():
            raise PowerCut("power cut at operation %d: rename of %r not done" % (self.ops, old))
        self.backend.rename(old, new)

    def remove(self, name):
        if self._cut_now():
            raise PowerCut("power cut at operation %d: remove of %r not done" % (self.ops, name))
        self.backend.remove(name)
