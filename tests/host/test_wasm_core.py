"""Every core test on a 32-bit MicroPython: the WebAssembly port under Node.js (issue 24).

tests/core/conftest.py runs each core test on CPython and on the MicroPython Unix port, a
64-bit build whose small ints hold 63 bits. The boards are 32-bit: small ints of 31 bits and
bigint digits of 16 bits, where arithmetic that silently stays small on the Unix port becomes a
bigint, and bigint code takes other paths. The npm package
@micropython/micropython-webassembly-pyscript is such a 32-bit MicroPython; tools/wasm installs
it (`make wasm`, npm ci from its lock file) and tools/wasm/run_core.mjs runs every core module
in it through tests/mp_runner.py, once per session. Each core test is reported here as a test
of its own, which fails when it failed on WebAssembly, or did not run there.

What the WebAssembly run cannot check is a heap budget: its heap grows on demand (gc.mem_free()
answers over 100 MB whatever heap it is started with), so a module that sets MP_HEAP runs there
with no limit. Such a module still runs, since what it computes must come out right on 32 bits
too, and the summary line of `make test` names it as run without its heap limit.
"""

import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
import time

import pytest
from mp_support import DEFAULT_HEAP, FIRMWARE, ROOT, WASM_RUN, compiled_firmware, need

CORE = ROOT / "tests" / "core"
WASM = ROOT / "tools" / "wasm"
RUN_CORE = WASM / "run_core.mjs"
PACKAGE = WASM / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


def _core_settings():
    """tests/core/conftest.py's reading of a module's MP_HEAP and MP_MPY, from that file itself,
    so that the WebAssembly run imports each module's core as the Unix port run does."""
    spec = importlib.util.spec_from_file_location("icpurse_core_conftest", CORE / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._module_settings


_module_settings = _core_settings()


def _core_modules():
    return sorted(CORE.glob("test_*.py"))


def _core_tests():
    """(module, test) for each core test, found as pytest and tests/mp_runner.py find them: the
    callable test_* names of the imported module, which include tests a module makes at import
    (test_wallet_fast.py wraps those of three others) and which reading the source would miss.
    pytest's default import mode puts tests/core first on sys.path when it collects it; when
    this module is collected alone, it does that itself."""
    if str(CORE) not in sys.path:
        sys.path.insert(0, str(CORE))
    tests = []
    for path in _core_modules():
        module = importlib.import_module(path.stem)
        for name in dir(module):
            if name.startswith("test_") and callable(getattr(module, name)):
                tests.append((path.stem, name))
    return sorted(tests)


CORE_TESTS = _core_tests()
# Modules that set their own heap on the Unix port: on WebAssembly they run without that limit.
UNLIMITED = {
    path.stem: _module_settings(path)["MP_HEAP"]
    for path in _core_modules()
    if _module_settings(path)["MP_HEAP"] != DEFAULT_HEAP
}


def _parse(stdout):
    """Results of run_core.mjs's output: {module.test: None or failure lines}, {module: error
    lines} for modules that could not run, and the header and totals lines."""
    results = {}
    errors = {}
    header = totals = None
    current = None
    for line in stdout.splitlines():
        if line.startswith("PASS "):
            current = None
            results[line.split()[1]] = None
        elif line.startswith("FAIL "):
            name, _, reason = line[5:].partition(" ")
            current = results[name] = [reason]
        elif line.startswith("ERROR "):
            module, _, reason = line[6:].partition(" ")
            current = errors.setdefault(module, [])
            current.append(reason)
        elif line.startswith("| ") and current is not None:
            current.append(line[2:])
        elif line.startswith("WASM "):
            header = line
        elif line.startswith("wasm: "):
            totals = line
    return results, errors, header, totals


def _node():
    node = shutil.which("node")
    need(node is not None, "Node.js (the node command; make system installs it)")
    need(
        PACKAGE.is_dir(),
        "the WebAssembly MicroPython in %s (make wasm runs npm ci there)" % PACKAGE.parent.parent,
    )
    return node


@pytest.fixture(scope="session")
def wasm_run(request):
    """One run of every core module on WebAssembly MicroPython: (results, errors, stdout)."""
    node = _node()
    specs = []
    mpy = None
    for path in _core_modules():
        if _module_settings(path)["MP_MPY"]:
            mpy = mpy or compiled_firmware()
            specs.append(path.stem + "=mpy")
        else:
            specs.append(path.stem)
    args = [node, str(RUN_CORE), "--src", str(FIRMWARE), "--tests", str(CORE)]
    if mpy is not None:
        args += ["--mpy", mpy]
    started = time.monotonic()
    done = subprocess.run(
        [*args, *specs], capture_output=True, text=True, timeout=600, check=False
    )
    seconds = time.monotonic() - started
    results, errors, header, totals = _parse(done.stdout)
    if header is None or totals is None:
        pytest.fail(
            "run_core.mjs did not finish (exit %d):\n%s\n%s"
            % (done.returncode, done.stdout[-3000:], done.stderr[-3000:]),
            pytrace=False,
        )
    version = re.search(r" (\S+) node (\S+)$", header)
    request.config.stash[WASM_RUN] = {
        "micropython": version.group(1),
        "node": version.group(2),
        "seconds": seconds,
        "unlimited": UNLIMITED,
    }
    return results, errors, done


@pytest.mark.parametrize(
    ("module", "test"), CORE_TESTS, ids=["%s.%s" % pair for pair in CORE_TESTS]
)
def test_core_on_wasm(wasm_run, module, test):
    results, errors, done = wasm_run
    name = "%s.%s" % (module, test)
    if name in results:
        if results[name] is not None:
            pytest.fail("on WebAssembly MicroPython:\n" + "\n".join(results[name]), pytrace=False)
        return
    if module in errors:
        pytest.fail(
            "on WebAssembly MicroPython, the module failed:\n" + "\n".join(errors[module]),
            pytrace=False,
        )
    pytest.fail(
        "on WebAssembly MicroPython, %s did not run; output:\n%s%s"
        % (name, done.stdout[-2000:], done.stderr[-2000:]),
        pytrace=False,
    )


def test_wasm_ran_the_unix_port_tests(request, wasm_run):
    """The WebAssembly run ran exactly the core tests listed here, and, when this session also
    collected tests/core, exactly the tests the Unix port runs: a core test that only one of the
    interpreters runs (one that MicroPython's dir() lists and CPython's does not, say) fails
    here."""
    results, errors, _ = wasm_run
    assert not errors, errors
    listed = {"%s.%s" % pair for pair in CORE_TESTS}
    assert set(results) == listed
    unix = {
        "%s.%s" % (item.path.stem, item.originalname)
        for item in request.session.items
        if item.path.parent == CORE
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("interp") == "micropython"
    }
    # A session may collect only some core modules (make test collects them all): compare those.
    modules = {name.split(".")[0] for name in unix}
    assert unix == {name for name in listed if name.split(".")[0] in modules}


def test_parse_reads_failures_and_module_errors():
    """The output reader reports a failing test and a module that could not run, with their
    lines: a reader that saw only PASS lines would let every failure through."""
    results, errors, header, totals = _parse(
        "WASM pkg 1.27.0 node v20.0.0\n"
        "PASS test_a.test_one\n"
        "FAIL test_a.test_two AssertionError()\n"
        "| Traceback (most recent call last):\n"
        "ERROR test_b ImportError('no module named x',)\n"
        "| at import\n"
        "wasm: 1 passed, 2 failed in 0.1 s\n"
    )
    assert results == {
        "test_a.test_one": None,
        "test_a.test_two": ["AssertionError()", "Traceback (most recent call last):"],
    }
    assert errors == {"test_b": ["ImportError('no module named x',)", "at import"]}
    assert header.startswith("WASM ") and totals.startswith("wasm: ")


def test_runner_is_32_bit_and_reports_failures(tmp_path):
    """run_core.mjs runs on an interpreter whose small ints are 31 bits, as on the boards (the
    point of this run), and reports a failing test and a module that cannot be imported as
    failures, with a non-zero exit."""
    (tmp_path / "test_probe.py").write_text(
        "import sys\n"
        "def test_small_ints_are_31_bits():\n"
        "    assert sys.maxsize == 2**31 - 1, sys.maxsize\n"
        "def test_fails():\n"
        "    assert 1 + 1 == 3\n"
    )
    (tmp_path / "test_broken.py").write_text("import no_such_module\n")
    done = subprocess.run(
        [_node(), str(RUN_CORE), "--tests", str(tmp_path), "test_probe", "test_broken"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    results, errors, _, totals = _parse(done.stdout)
    assert results["test_probe.test_small_ints_are_31_bits"] is None, done.stdout
    assert results["test_probe.test_fails"][0].startswith("AssertionError"), done.stdout
    assert "ImportError" in errors["test_broken"][0], done.stdout
    assert totals.startswith("wasm: 1 passed, 2 failed"), done.stdout
    assert done.returncode == 1
