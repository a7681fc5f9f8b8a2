"""Run every core test twice: on CPython (pytest itself) and on the MicroPython Unix port.

A test module in this directory needs nothing extra to run on both interpreters: each test
function gets an `interp` parameter from the autouse fixture below, and the MicroPython variant
reports the result of the same function run by tests/mp_runner.py under `micropython`. Each
module runs once per session on MicroPython; its results are cached and handed out per test.

A module may set, at top level, `MP_HEAP = "96K"` to run under that heap instead of the default,
and `MP_MPY = True` to import the core precompiled by mpy-cross, as a board does.
"""

import ast
from pathlib import Path

import pytest
from mp_support import DEFAULT_HEAP, FIRMWARE, ROOT, compiled_firmware, run_micropython

HERE = Path(__file__).resolve().parent
RUNNER = ROOT / "tests" / "mp_runner.py"

_results = {}


@pytest.fixture(autouse=True, params=["cpython", "micropython"])
def interp(request):
    return request.param


def _module_settings(path):
    settings = {"MP_HEAP": DEFAULT_HEAP, "MP_MPY": False}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in settings:
                settings[target.id] = ast.literal_eval(node.value)
    return settings


def _run_module_on_micropython(path):
    settings = _module_settings(path)
    src = compiled_firmware() if settings["MP_MPY"] else str(FIRMWARE)
    done = run_micropython(
        [str(RUNNER), src, str(HERE), path.stem], heap=settings["MP_HEAP"], timeout=1800
    )
    results = {}
    current = None
    module_error = None
    for line in done.stdout.splitlines():
        if line.startswith("PASS "):
            current = None
            results[line.split()[1].split(".", 1)[1]] = None
        elif line.startswith("FAIL "):
            name, _, reason = line[5:].partition(" ")
            current = name.split(".", 1)[1]
            results[current] = [reason]
        elif line.startswith("ERROR "):
            module_error = [line]
            current = None
        elif line.startswith("| "):
            if current is not None:
                results[current].append(line[2:])
            elif module_error is not None:
                module_error.append(line[2:])
    if module_error is None and done.returncode != 0:
        module_error = ["micropython exited with %d" % done.returncode, done.stderr[-4000:]]
    return results, module_error, done


def pytest_pyfunc_call(pyfuncitem):
    callspec = getattr(pyfuncitem, "callspec", None)
    if callspec is None or callspec.params.get("interp") != "micropython":
        return None
    path = Path(pyfuncitem.path)
    if path not in _results:
        _results[path] = _run_module_on_micropython(path)
    results, module_error, done = _results[path]
    name = pyfuncitem.originalname
    if name in results:
        if results[name] is not None:
            pytest.fail("on MicroPython:\n" + "\n".join(results[name]), pytrace=False)
        return True
    if module_error is not None:
        pytest.fail(
            "on MicroPython, the module failed:\n" + "\n".join(module_error), pytrace=False
        )
    pytest.fail(
        "on MicroPython, %s did not run; output:\n%s%s" % (name, done.stdout[-2000:], done.stderr),
        pytrace=False,
    )
    return True
