"""Run core test modules on the MicroPython Unix port and report one line per test.

Usage (as tests/core/conftest.py calls it):
    micropython -X heapsize=4M tests/mp_runner.py SRC_DIR TEST_DIR MODULE [MODULE ...]

SRC_DIR goes first on sys.path (firmware/ for source, or a directory of .mpy files compiled by
mpy-cross), then TEST_DIR. Each module's test_* functions run in name order. Output lines:
    PASS module.name
    FAIL module.name <one-line reason>
followed, for failures, by the traceback lines prefixed with "| ", and a closing count line.
This file runs only under MicroPython, so it uses nothing CPython-specific.
"""

import gc
import sys

try:
    import io
except ImportError:
    io = None


def _traceback_text(exc):
    if io is None:
        return repr(exc)
    buf = io.StringIO()
    sys.print_exception(exc, buf)
    return buf.getvalue()


def run_module(name):
    passed = 0
    failed = 0
    module = __import__(name)
    names = sorted(n for n in dir(module) if n.startswith("test_"))
    for test_name in names:
        func = getattr(module, test_name)
        if not callable(func):
            continue
        gc.collect()
        try:
            func()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run.
            failed += 1
            reason = repr(exc).replace("\n", " ")
            print("FAIL %s.%s %s" % (name, test_name, reason))
            for line in _traceback_text(exc).split("\n"):
                if line:
                    print("| " + line)
        else:
            passed += 1
            print("PASS %s.%s" % (name, test_name))
    return passed, failed


def main(argv):
    src, test_dir = argv[1], argv[2]
    sys.path.insert(0, test_dir)
    sys.path.insert(0, src)
    passed = failed = 0
    for name in argv[3:]:
        try:
            p, f = run_module(name)
        except Exception as exc:  # noqa: BLE001 - an import error fails the whole module.
            print("ERROR %s %s" % (name, repr(exc).replace("\n", " ")))
            for line in _traceback_text(exc).split("\n"):
                if line:
                    print("| " + line)
            failed += 1
            continue
        passed += p
        failed += f
    print("micropython: %d passed, %d failed" % (passed, failed))


main(sys.argv)
