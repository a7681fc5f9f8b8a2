"""Test-suite options and hooks shared by every test directory."""

from hypothesis import settings
from mp_support import WASM_RUN

# No per-example deadline: CI shares two cores with the MicroPython runs and the emulated
# cards, and a slow example is not a failure. Hypothesis's other defaults stay.
settings.register_profile("icpurse", deadline=None)
settings.load_profile("icpurse")


def pytest_addoption(parser):
    group = parser.getgroup("icpurse", "real boards (docs/DESIGN.md section 12)")
    group.addoption(
        "--port-a", default=None, help="serial port of board A (or ICPURSE_PORT_A); fresh board"
    )
    group.addoption(
        "--port-b", default=None, help="serial port of board B (or ICPURSE_PORT_B); fresh board"
    )


def pytest_terminal_summary(terminalreporter, config):
    """Print the core tests' counts on each MicroPython next to pytest's own summary: the 64-bit
    Unix port (tests/core/conftest.py) and the 32-bit WebAssembly port
    (tests/host/test_wasm_core.py)."""
    unix = _counts(terminalreporter, _core_on_micropython)
    wasm = _counts(terminalreporter, _core_on_wasm)
    parts = []
    if unix["passed"] or unix["failed"]:
        parts.append(
            "%d passed%s on the 64-bit Unix port (%.1f s)"
            % (unix["passed"], _also(unix), unix["seconds"])
        )
    if any(wasm[key] for key in ("passed", "failed", "skipped")):
        run = config.stash.get(WASM_RUN, None)
        where = "32-bit WebAssembly MicroPython"
        if run is not None:
            where += " %s (Node.js %s, %.1f s)" % (run["micropython"], run["node"], run["seconds"])
        parts.append(
            "%d passed, %d skipped, %d failed on %s"
            % (wasm["passed"], wasm["skipped"], wasm["failed"], where)
        )
    if not parts:
        return
    terminalreporter.write_line("core tests: " + "; ".join(parts))
    run = config.stash.get(WASM_RUN, None)
    if run is not None and run["unlimited"]:
        terminalreporter.write_line(
            "  heap budgets are not checked on WebAssembly, whose heap grows on demand; run "
            "there with no limit: %s"
            % ", ".join("%s (%s)" % item for item in sorted(run["unlimited"].items()))
        )


def _counts(terminalreporter, wanted):
    """Passed, failed and skipped tests among the reports whose node id `wanted` accepts, and
    the seconds their calls took. A failed setup (a fixture that could not run the interpreter)
    counts as a failure."""
    counts = {"passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0}
    for key in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(key, []):
            if not wanted(getattr(report, "nodeid", "")):
                continue
            if key == "passed" and report.when == "call":
                counts["passed"] += 1
            elif key in ("failed", "error"):
                counts["failed"] += 1
            elif key == "skipped":
                counts["skipped"] += 1
            if report.when == "call":
                counts["seconds"] += report.duration
    return counts


def _also(counts):
    extra = ["%d %s" % (counts[key], key) for key in ("skipped", "failed") if counts[key]]
    return ", " + ", ".join(extra) if extra else ""


def _core_on_micropython(nodeid):
    return nodeid.startswith("tests/core/") and "[micropython" in nodeid


def _core_on_wasm(nodeid):
    return nodeid.startswith("tests/host/test_wasm_core.py::test_core_on_wasm[")
