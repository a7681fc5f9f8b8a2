"""The durable store: framing, every kind of damage, commits, and a power cut at every operation.

The states written here spell out the blobs they reference ("v2:b,c,d" references b, c and d),
so a reopened store finds its references by parsing its own state, as the wallet does.
"""

import binascii

from _check import raises

from purse import proto, store
from purse.errors import PurseError, StoreError
from purse.faults import FaultPoint
from purse.store import MemoryBackend, PowerCut, Store
from purse.wallet.state import MAX_ENCODED, CardState, JournalEntry, OutboxEntry


def _state(version, refs):
    return ("%s:%s" % (version, ",".join(refs))).encode()


def _refs(payload):
    names = payload.decode().split(":", 1)[1]
    return names.split(",") if names else []


def _blob(name):
    # Distinct, recognisable contents, long enough that a torn write differs from the whole.
    return (name * 40).encode()


def test_frame_layout_and_round_trip():
    for payload in (b"", b"x", bytes(range(256)) * 3):
        framed = store.frame(payload)
        n = len(payload)
        assert len(framed) == n + 13
        assert framed[0:4] == b"ICPS"
        assert framed[4] == store.FORMAT == 1
        assert int.from_bytes(framed[5:9], "big") == n
        assert framed[9 : 9 + n] == payload
        crc = binascii.crc32(bytes(framed[: 9 + n])) & 0xFFFFFFFF
        assert int.from_bytes(framed[9 + n :], "big") == crc
        back = store.unframe("x", bytes(framed))
        assert back == payload
        assert isinstance(back, bytes)
        # A backend may hand back a bytearray (FileBackend does): it reads the same.
        assert store.unframe("x", framed) == payload


def test_frame_known_bytes():
    # The frame of b"hi" written out by hand; the CRC-32 is that of zlib over the nine bytes
    # before it, computed independently by CPython's zlib.crc32.
    head = b"ICPS\x01\x00\x00\x00\x02hi"
    assert store.frame(b"hi") == head + (binascii.crc32(head) & 0xFFFFFFFF).to_bytes(4, "big")


def _damaged():
    good = bytes(store.frame(b"some state payload"))
    n = len(good)

    def flip(pos):
        b = bytearray(good)
        b[pos] ^= 0x01
        return bytes(b)

    relength = bytearray(good)
    relength[5:9] = (n - 13 + 1).to_bytes(4, "big")
    return (
        ("truncated", good[: n - 1]),
        ("truncated", good[:5]),
        ("truncated", b""),
        ("truncated", good[:12]),
        ("extended", good + b"\x00"),
        ("magic", b"ICPX" + good[4:]),
        ("version", good[:4] + b"\x02" + good[5:]),
        ("version", good[:4] + b"\x00" + good[5:]),
        ("CRC", flip(10)),
        ("CRC", flip(n - 1)),
        ("magic", flip(0)),
        # The length field no longer matches the file's size.
        ("extended", bytes(relength)),
    )


def test_every_damage_raises_store_error_naming_the_file():
    for word, data in _damaged():
        with raises(StoreError, "'blobfile'") as caught:
            store.unframe("blobfile", data)
        assert word in str(caught.value), (word, str(caught.value))
        assert isinstance(caught.value, PurseError)


def test_damaged_state_and_blob_raise_on_load():
    for _word, data in _damaged():
        backend = MemoryBackend()
        backend.files["state"] = data
        backend.files["b"] = data
        with raises(StoreError, "'state'"):
            Store(backend).load()
        with raises(StoreError, "'b'"):
            Store(backend).read_blob("b")


def test_fresh_store_loads_none():
    backend = MemoryBackend()
    assert Store(backend).load() is None
    # A first commit cut before its rename leaves only garbage: still a fresh card.
    backend.files["state.new"] = b"ICPS"
    assert Store(backend).load() is None


def test_commit_and_reload():
    backend = MemoryBackend()
    s = Store(backend)
    s.commit(b"first")
    assert s.load() == b"first"
    s.commit(b"second")
    assert Store(backend).load() == b"second"
    assert sorted(backend.names()) == ["state"]


def _full_state():
    """A card state with every field present and every list at its limit."""
    st = CardState()
    st.lifecycle = proto.STATE_READY
    st.secret = st.seal_key = bytes(range(32))
    st.public_key = st.ca_key = st.issuer_key = st.logger_key = b"\x02" + bytes(range(32))
    st.balance, st.pay_counter, st.chall_counter = 0xFFFFFFFF, 7, 9
    st.certificate_blob, st.voucher_blob, st.risk_blob, st.revocation_blob = 1, 2, 3, 4
    st.log_id = b"L" * proto.LOG_ID_SIZE
    st.stamp_blob = 5
    st.next_blob = 100
    st.outbox = [OutboxEntry(10 + i, b"o%07d" % i, 5, 6) for i in range(proto.OUTBOX_MAX)]
    st.journal = [
        JournalEntry(40 + i, b"j%07d" % i, b"g" * 8, 5, i) for i in range(proto.JOURNAL_MAX)
    ]
    return st


def test_a_state_frames_itself_in_the_reserved_buffer():
    full = _full_state()
    encoded = full.encode()
    # MAX_ENCODED is exactly the largest state, so the buffer a card reserves at boot serves
    # every commit.
    assert full.encoded_size() == len(encoded) == MAX_ENCODED
    backend = MemoryBackend()
    s = Store(backend, reserve=MAX_ENCODED)
    s.commit(full)
    assert backend.files["state"] == bytes(store.frame(encoded))
    assert CardState.decode(s.load()).encode() == encoded
    # A smaller state after it: the buffer's tail from the larger one is not written.
    small = CardState()
    s.commit(small, {"b": _blob("b")})
    assert s.load() == small.encode() and s.read_blob("b") == _blob("b")
    # Without a reserve the buffer is made at the first commit.
    lazy = Store(MemoryBackend())
    lazy.commit(full)
    assert lazy.load() == encoded


class _Miscounted:
    """A payload whose encode_into writes fewer bytes than encoded_size announced."""

    def encoded_size(self):
        return 10

    def encode_into(self, buf, pos):
        buf[pos : pos + 4] = b"half"
        return pos + 4


def test_a_payload_that_miscounts_itself_changes_nothing():
    backend = MemoryBackend()
    s = Store(backend, reserve=64)
    s.commit(b"old")
    with raises(StoreError, "4 bytes, 10 announced"):
        s.commit(_Miscounted())
    assert s.load() == b"old" and sorted(backend.names()) == ["state"]


def test_blobs_are_referenced_read_back_and_dropped():
    backend = MemoryBackend()
    s = Store(backend)
    s.commit(_state("v1", ["a", "b"]), {"a": _blob("a"), "b": _blob("b")})
    assert sorted(backend.names()) == ["a", "b", "state"]
    reopened = Store(backend)
    for name in _refs(reopened.load()):
        assert reopened.read_blob(name) == _blob(name)
    s.commit(_state("v2", ["b", "c"]), {"c": _blob("c")}, drop=["a"])
    assert sorted(backend.names()) == ["b", "c", "state"]
    assert s.read_blob("c") == _blob("c")
    with raises(StoreError, "'a' is missing"):
        s.read_blob("a")


def test_commit_refuses_bad_blob_names_before_writing():
    backend = MemoryBackend()
    s = Store(backend)
    s.commit(b"v1")
    for blobs, drop in (
        ({"state": b"x"}, ()),
        ({"state.new": b"x"}, ()),
        ({"../x": b"x"}, ()),
        ({"": b"x"}, ()),
        ({"a": b"x"}, ["a"]),
        (None, ["state"]),
    ):
        with raises(StoreError):
            s.commit(b"v2", blobs, drop)
        assert s.load() == b"v1"
        assert backend.names() == ["state"]


def test_garbage_collection_keeps_state_and_referenced():
    backend = MemoryBackend()
    s = Store(backend)
    s.commit(_state("v1", ["a"]), {"a": _blob("a")})
    backend.files["state.new"] = b"torn"
    backend.files["orphan"] = b"x"
    assert sorted(s.collect_garbage(["a"])) == ["orphan", "state.new"]
    assert sorted(backend.names()) == ["a", "state"]
    assert s.collect_garbage(("a",)) == []


def test_memory_backend_protocol():
    b = MemoryBackend()
    assert b.read("x") is None
    data = bytearray(b"abc")
    b.write("x", data)
    data[0] = 0
    assert b.read("x") == b"abc"
    b.write("x", b"z")
    assert b.read("x") == b"z"
    b.write("y", b"old")
    b.rename("x", "y")
    assert b.read("y") == b"z"
    assert b.read("x") is None
    b.remove("y")
    b.remove("y")
    assert b.names() == []
    with raises(OSError):
        b.rename("x", "y")


def test_fault_point_counts_and_passes_through():
    fp = FaultPoint(MemoryBackend())
    s = Store(fp)
    s.commit(b"v1", {"a": b"1", "b": b"2"})
    assert fp.ops == 4
    s.commit(b"v2", {"c": b"3"}, drop=["a", "b"])
    assert fp.ops == 4 + 5
    assert s.load() == b"v2"
    s.collect_garbage(["c"])
    assert fp.ops == 9
    assert not isinstance(PowerCut("x"), PurseError)


def test_fault_point_cut_write_tears_and_stays_down():
    inner = MemoryBackend()
    fp = FaultPoint(inner, cut_at=2)
    fp.write("a", b"0123456789")
    with raises(PowerCut):
        fp.write("b", b"0123456789")
    assert inner.files["b"] == b"01234"
    assert fp.ops == 2
    for op in (
        lambda: fp.read("a"),
        lambda: fp.names(),
        lambda: fp.write("c", b""),
        lambda: fp.rename("a", "c"),
        lambda: fp.remove("a"),
    ):
        with raises(PowerCut):
            op()
    assert fp.ops == 2
    fp.restore()
    assert fp.cut_at is None
    assert fp.read("a") == b"0123456789"
    fp.remove("a")
    assert fp.ops == 3


def test_fault_point_cut_rename_and_remove_do_nothing():
    inner = MemoryBackend()
    inner.files["a"] = b"1"
    fp = FaultPoint(inner, cut_at=1)
    with raises(PowerCut):
        fp.rename("a", "b")
    assert sorted(inner.files) == ["a"]
    fp.restore()
    fp.cut_at = fp.ops + 1
    with raises(PowerCut):
        fp.remove("a")
    assert sorted(inner.files) == ["a"]


OLD = _state("v1", ["a", "b"])
NEW = _state("v2", ["b", "c", "d"])


def _old_card():
    backend = MemoryBackend()
    Store(backend).commit(OLD, {"a": _blob("a"), "b": _blob("b")})
    return backend


def _commit_new(s):
    s.commit(NEW, {"c": _blob("c"), "d": _blob("d")}, drop=["a"])


def _reopen_and_check(fp):
    """Reopen after a power cut, collect garbage, and return the state found; check it fully."""
    s = Store(fp)
    payload = s.load()
    refs = _refs(payload)
    s.collect_garbage(refs)
    assert sorted(fp.names()) == sorted(refs + ["state"])
    for name in refs:
        assert s.read_blob(name) == _blob(name)
    return payload


def test_power_cut_at_every_operation_of_a_commit():
    probe = FaultPoint(_old_card())
    _commit_new(Store(probe))
    total = probe.ops
    # Two new blobs, state.new, the rename (the commit point), one drop.
    assert total == 5
    for cut_at in range(1, total + 1):
        fp = FaultPoint(_old_card(), cut_at=cut_at)
        with raises(PowerCut):
            _commit_new(Store(fp))
        fp.restore()
        payload = _reopen_and_check(fp)
        # The rename is operation 4: cut there or before, the old state survives.
        assert payload == (OLD if cut_at <= 4 else NEW), (cut_at, payload)
    fp = FaultPoint(_old_card(), cut_at=total + 1)
    _commit_new(Store(fp))
    assert _reopen_and_check(fp) == NEW


def test_power_cut_during_garbage_collection():
    for cut_at in (1, 2, 3):
        fp = FaultPoint(_old_card())
        fp.backend.files["state.new"] = b"torn"
        fp.backend.files["x"] = b"junk"
        fp.cut_at = cut_at
        s = Store(fp)
        try:
            s.collect_garbage(_refs(s.load()))
        except PowerCut:
            pass
        fp.restore()
        assert _reopen_and_check(fp) == OLD


def test_first_commit_cut_at_every_operation_leaves_fresh_or_new():
    for cut_at in range(1, 4):
        fp = FaultPoint(MemoryBackend(), cut_at=cut_at)
        with raises(PowerCut):
            Store(fp).commit(_state("v1", ["a"]), {"a": _blob("a")})
        fp.restore()
        s = Store(fp)
        payload = s.load()
        assert payload is None
        s.collect_garbage(())
        assert fp.names() == []


def test_a_layout_1_state_is_refused_with_a_reason():
    # Layouts 1 and 2 were protocols 1 and 2's: their blobs are records this code cannot read,
    # so the card is refused whole, never read in part.
    payload = bytearray(CardState().encode())
    if payload[:3] != b"\xc1\x01\x03":
        raise AssertionError("the state does not start with its layout: %r" % payload[:3])
    for layout in (1, 2, 9):
        payload[2] = layout
        with raises(StoreError, "layout %d is not this firmware's 3: flash the card" % layout):
            CardState.decode(bytes(payload))
