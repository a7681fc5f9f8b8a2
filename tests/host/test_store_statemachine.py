"""Stateful property test of the store: commits, power cuts and reopens, against a tiny model.

The model is the last committed state payload and the blobs it references. A power cut is
armed at a random operation to come; it may fall inside a commit, inside the garbage collection
of a reopen, or not at all. When a commit is cut the model decides, from which of the commit's
operations was cut, whether the new state was committed: its operations are one write per new
blob, the write of "state.new", then the rename onto "state", the commit point. A cut at or
before the rename leaves the old state; a cut after it (one of the drops) leaves the new one.

Each state names the blobs it references, so a reopened store finds them by parsing its own
state, as the wallet does.
"""

import json

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from purse.faults import FaultPoint
from purse.store import MemoryBackend, PowerCut, Store

# A small pool of blob names, so that names of dropped blobs come back as new blobs.
POOL = ["b%d" % i for i in range(8)]


def _encode(serial, refs, pad):
    return json.dumps({"serial": serial, "refs": sorted(refs), "pad": pad.hex()}).encode()


def _refs(payload):
    return [] if payload is None else json.loads(payload)["refs"]


def _up(machine):
    return not machine.fp.down


def _down(machine):
    return machine.fp.down


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.fp = FaultPoint(MemoryBackend())
        self.store = Store(self.fp)
        self.state = None  # The model: the committed payload, or None on a fresh card...
        self.blobs = {}  # ...and the payloads of the blobs it references.
        self.serial = 0
        # True once a garbage collection has run to its end since the last power cut.
        self.clean = True

    @precondition(_up)
    @rule(ahead=st.integers(min_value=1, max_value=8))
    def arm_cut(self, ahead):
        self.fp.cut_at = self.fp.ops + ahead

    @precondition(_up)
    @rule(data=st.data())
    def commit(self, data):
        current = sorted(self.blobs)
        drop = data.draw(st.lists(st.sampled_from(current), unique=True)) if current else []
        free = [n for n in POOL if n not in self.blobs]
        names = data.draw(st.lists(st.sampled_from(free), unique=True, max_size=3)) if free else []
        new = {n: data.draw(st.binary(max_size=48)) for n in names}
        blobs = {n: v for n, v in self.blobs.items() if n not in drop}
        blobs.update(new)
        self.serial += 1
        payload = _encode(self.serial, blobs, data.draw(st.binary(max_size=24)))
        before = self.fp.ops
        try:
            self.store.commit(payload, new, drop)
        except PowerCut:
            cut = self.fp.ops - before
            if cut > len(new) + 2:
                self.state, self.blobs = payload, blobs
            self.clean = False
            return
        self.state, self.blobs = payload, blobs

    def _reopen(self):
        self.store = Store(self.fp)
        refs = _refs(self.store.load())
        self.store.collect_garbage(refs)
        self.clean = True

    @precondition(_up)
    @rule()
    def reopen(self):
        # An armed cut may fall on one of the collection's removes.
        try:
            self._reopen()
        except PowerCut:
            self.clean = False

    @precondition(_down)
    @rule()
    def power_back(self):
        try:
            self.fp.read("state")
        except PowerCut:
            pass
        else:
            raise AssertionError("a read passed while the power was off")
        self.fp.restore()
        self._reopen()

    @precondition(_up)
    @invariant()
    def store_agrees_with_model(self):
        payload = self.store.load()
        assert payload == self.state
        refs = _refs(payload)
        assert refs == sorted(self.blobs)
        for name in refs:
            assert self.store.read_blob(name) == self.blobs[name]
        if self.clean:
            expected = [*refs, "state"] if payload is not None else []
            assert sorted(self.fp.names()) == sorted(expected)


TestStore = StoreMachine.TestCase
TestStore.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
