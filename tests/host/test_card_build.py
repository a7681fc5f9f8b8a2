"""The card build's rewrites of the source (icpurse.inline, icpurse.strip): constants inlined
and left out of the card's globals, host-only definitions left out, empty classes made with
type(); and the compiled firmware still answers for purse.proto's numbers."""

import ast

import pytest
from mp_support import compiled_firmware, run_micropython

from icpurse import inline, strip

PROTO = """
from purse.compat import const
AID = b"\\xf0icpurse\\x01"
INS_PAY = const(0x56)
SW_OK = const(0x9000)
BIG = const(1 << 40)
SEAL_MODES = (INS_PAY,)
"""
USER = """
from purse import proto
from purse.proto import SW_OK
_HEADER = const(9)
_U32 = proto.INS_PAY + 1
_LABEL = b"label"
_count = 0


def pay(ins):
    global _count
    _count += 1
    return ins == proto.INS_PAY and proto.AID, SW_OK, proto.BIG, _U32, _LABEL, _count
"""


def _build(sources):
    trees = {name: ast.parse(text) for name, text in sources.items()}
    table = inline.collect(trees)
    foreign = inline.foreign_reads(trees)
    return table, {
        name: ast.unparse(inline.inline(tree, name, table, foreign))
        for name, tree in trees.items()
    }


def test_constants_are_inlined_and_left_out_of_the_globals():
    table, out = _build({"purse.proto": PROTO, "purse.user": USER})
    assert table["purse.proto"] == {"AID": b"\xf0icpurse\x01", "INS_PAY": 0x56, "SW_OK": 0x9000}
    proto, user = out["purse.proto"], out["purse.user"]
    # The declarations go; what is not a constant to inline (a 41-bit int, a tuple) stays.
    assert "INS_PAY" not in proto and "AID" not in proto and "BIG = " in proto
    assert "SEAL_MODES = (86,)" in proto
    # purse.proto answers for them to code beside the build, from a generated module.
    assert "def __getattr__(name):" in proto and "_proto_consts" in proto
    assert "SW_OK = 36864" in inline.consts_source("purse.proto", table)
    # Its readers hold the values; a private integer global goes too, the others are renamed.
    assert "ins == 86 and b'\\xf0icpurse\\x01', 36864, proto.BIG, 87" in user
    assert "import SW_OK" not in user and "_U32" not in user and "_HEADER" not in user
    assert "_LABEL" not in user and "_count" not in user and "global _0" in user


def test_a_constant_bound_again_fails_the_build():
    with pytest.raises(inline.InlineError, match="INS_PAY"):
        _build({"purse.proto": PROTO + "\nINS_PAY = 3\n", "purse.user": USER})
    with pytest.raises(inline.InlineError, match="proto"):
        _build({"purse.proto": PROTO, "purse.user": USER + "\nproto = None\n"})


def test_host_only_definitions_and_class_bodies_go():
    source = """
from purse.compat import const, host_only


class Record(Base):
    TAG = 1

    def load(self):
        return 1

    @host_only
    def items(self):
        return []


@host_only
def build():
    return Record()


class Refused(Error):
    \"\"\"Only a docstring.\"\"\"
"""
    tree, left_out = strip.strip(ast.parse(source))
    out = ast.unparse(tree)
    assert left_out == ["items", "build"]
    assert "host_only" not in out and "def load" in out and "items" not in out
    assert "Refused = type('Refused', (Error,), {})" in out and "class Record(Base)" in out
    with pytest.raises(strip.StripError):
        strip.strip(ast.parse("from purse.compat import host_only\nx = host_only\n"))


def test_the_compiled_firmware_still_answers_for_protos_numbers(tmp_path):
    script = tmp_path / "proto.py"
    script.write_text(
        "import sys\nsys.path.insert(0, %r)\nfrom purse import proto\n"
        "print(proto.FRAME_COMMAND, proto.SW_OK, len(proto.AID), 'INS_PAY' in proto.__dict__)\n"
        "import purse.store\nprint(hasattr(purse.store, 'MemoryBackend'))\n" % compiled_firmware()
    )
    done = run_micropython([str(script)], heap="256K")
    assert done.returncode == 0, done.stderr
    # The numbers come from the generated module; the module's own globals no longer hold
    # them, and the store's in-memory backend (host-only) is not on the card.
    assert done.stdout.split() == ["1", "36864", "9", "False", "False"]
