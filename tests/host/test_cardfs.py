"""The board's file backend on real files: commits, power cuts, damage, and MicroPython.

firmware/cardfs.py is board glue, not part of the installed `purse` package, so it is loaded
from its file; the MicroPython check runs the same file under the Unix port.
"""

import importlib.util
import json
import os

import pytest
from mp_support import FIRMWARE, run_micropython

from purse.errors import StoreError
from purse.faults import FaultPoint
from purse.store import PowerCut, Store

_spec = importlib.util.spec_from_file_location("cardfs", FIRMWARE / "cardfs.py")
cardfs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cardfs)
FileBackend = cardfs.FileBackend


def _state(version, refs):
    return json.dumps({"version": version, "refs": refs}).encode()


def _refs(payload):
    return json.loads(payload)["refs"]


def _blob(name):
    return (name * 40).encode()


OLD = _state(1, ["a", "b"])
NEW = _state(2, ["b", "c", "d"])


def _old_card(directory):
    backend = FileBackend(str(directory))
    Store(backend).commit(OLD, {"a": _blob("a"), "b": _blob("b")})
    return backend


def _commit_new(s):
    s.commit(NEW, {"c": _blob("c"), "d": _blob("d")}, drop=["a"])


def test_creates_directory_and_speaks_the_protocol(tmp_path):
    directory = tmp_path / "card"
    b = FileBackend(str(directory))
    assert directory.is_dir()
    assert b.names() == []
    assert b.read("x") is None
    b.write("x", b"abc")
    assert (directory / "x").read_bytes() == b"abc"
    assert b.read("x") == b"abc"
    b.write("x", bytearray(b"z"))
    assert b.read("x") == b"z"
    b.write("y", b"old")
    b.rename("x", "y")
    assert b.read("y") == b"z"
    assert sorted(b.names()) == ["y"]
    b.remove("y")
    b.remove("y")
    assert b.names() == []
    with pytest.raises(OSError):
        b.rename("x", "y")
    # An existing directory is reused as it is.
    (directory / "kept").write_bytes(b"k")
    assert FileBackend(str(directory)).names() == ["kept"]


def test_commit_and_reload_on_disk(tmp_path):
    _old_card(tmp_path)
    s = Store(FileBackend(str(tmp_path)))
    assert s.load() == OLD
    _commit_new(s)
    reopened = Store(FileBackend(str(tmp_path)))
    assert reopened.load() == NEW
    assert sorted(os.listdir(tmp_path)) == ["b", "c", "d", "state"]
    for name in _refs(NEW):
        assert reopened.read_blob(name) == _blob(name)


def test_power_cut_at_every_operation_on_disk(tmp_path):
    total = 5  # Two new blobs, state.new, the rename (the commit point), one drop.
    for cut_at in range(1, total + 2):
        directory = tmp_path / ("cut%d" % cut_at)
        fp = FaultPoint(_old_card(directory), cut_at=cut_at)
        try:
            _commit_new(Store(fp))
        except PowerCut:
            assert cut_at <= total
        else:
            assert cut_at == total + 1
        fp.restore()
        # Reopen from the files alone, as a card does at power-up.
        s = Store(FileBackend(str(directory)))
        payload = s.load()
        assert payload == (OLD if cut_at <= 4 else NEW), cut_at
        refs = _refs(payload)
        s.collect_garbage(refs)
        assert sorted(os.listdir(directory)) == sorted([*refs, "state"])
        for name in refs:
            assert s.read_blob(name) == _blob(name)


def test_torn_state_file_names_the_file(tmp_path):
    _old_card(tmp_path)
    path = tmp_path / "state"
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(StoreError, match="'state'"):
        Store(FileBackend(str(tmp_path))).load()
    path.write_bytes(b"")
    with pytest.raises(StoreError, match="'state' is truncated"):
        Store(FileBackend(str(tmp_path))).load()
    (tmp_path / "a").write_bytes(_blob("a"))
    with pytest.raises(StoreError, match="'a'"):
        Store(FileBackend(str(tmp_path))).read_blob("a")


MP_SCRIPT = """
import sys
sys.path = [%(firmware)r]
from cardfs import FileBackend
from purse.faults import FaultPoint
from purse.store import PowerCut, Store

d = %(directory)r
s = Store(FileBackend(d))
print("fresh", s.load())
s.commit(b"v1:a,b", {"a": b"A" * 100, "b": b"B" * 100})
s.commit(b"v2:b,c", {"c": b"C" * 100}, drop=["a"])
fp = FaultPoint(FileBackend(d), cut_at=2)
try:
    Store(fp).commit(b"v3:b,c,e", {"e": b"E" * 100})
except PowerCut:
    print("cut", fp.ops)
s = Store(FileBackend(d))
state = s.load()
print("state", state.decode())
print("removed", sorted(s.collect_garbage(["b", "c"])))
print("names", sorted(FileBackend(d).names()))
print("blob", s.read_blob("c") == b"C" * 100)
"""


def test_file_backend_under_micropython(tmp_path):
    directory = str(tmp_path / "card")
    script = tmp_path / "script.py"
    script.write_text(MP_SCRIPT % {"firmware": str(FIRMWARE), "directory": directory})
    done = run_micropython([str(script)], timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split("\n") == [
        "fresh None",
        "cut 2",
        "state v2:b,c",
        "removed ['e', 'state.new']",
        "names ['b', 'c', 'state']",
        "blob True",
        "",
    ]
    # What MicroPython wrote, CPython reads: the format is the same on both interpreters.
    s = Store(FileBackend(directory))
    assert s.load() == b"v2:b,c"
    assert s.read_blob("b") == b"B" * 100
