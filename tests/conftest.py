"""Test-suite options and hooks shared by every test directory."""

from hypothesis import settings

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


def pytest_terminal_summary(terminalreporter):
    """Print the MicroPython pass count next to pytest's own summary."""
    passed = failed = 0
    for report in terminalreporter.stats.get("passed", []):
        if report.when == "call" and _core_on_micropython(report.nodeid):
            passed += 1
    for report in terminalreporter.stats.get("failed", []):
        if report.when == "call" and _core_on_micropython(report.nodeid):
            failed += 1
    if passed or failed:
        terminalreporter.write_line(
            "core tests on the MicroPython Unix port: %d passed, %d failed" % (passed, failed)
        )


def _core_on_micropython(nodeid):
    return nodeid.startswith("tests/core/") and "[micropython" in nodeid
