"""`icpurse bench transfer --instructions --smoke` end to end, through the real command line and
valgrind: boot and the first mode-1 transfer are counted, the table has its rows and the board
table its columns, the counts are positive, add up, and come out the same on a second run.
No figure is held to a target: the bench prints figures, it is not a timed test.

valgrind is a Debian package (valgrind); without it this test fails under CI and is skipped
elsewhere (mp_support.need)."""

import json
import re
import shutil
import subprocess
import sys

import pytest
from mp_support import need, need_micropython

from icpurse.bench.instructions import BOARDS

ROW = re.compile(r"^(-|1 encrypted)\s+(.+?)\s{2,}([\d.]+) M\s+([\d,]+|-)\s+(\S+)")
STEPS = ("boot to ready (card A)", "MAKE CHALLENGE (first)", "PAY (first)", "ACCEPT (first)",
         "transfer (first)")  # fmt: skip


def _smoke(tmp_path, *extra):
    need(shutil.which("valgrind") is not None, "valgrind (Debian package valgrind)")
    need_micropython()
    done = subprocess.run(
        [sys.executable, "-m", "icpurse", "bench", "transfer", "--instructions", "--smoke",
         "--jobs", "2", *extra],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _rows(text):
    table = text.split("ESTIMATED seconds")[0]
    return {m.group(2): m.groups() for m in map(ROW.match, table.splitlines()) if m}


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smoke")
    out = _smoke(tmp, "--baseline", str(tmp / "missing.json"), "--save", str(tmp / "a.json"))
    return tmp, out


def test_smoke_prints_every_step_with_counts_and_the_board_table(first):
    tmp, out = first
    assert "baseline unavailable" in out
    rows = _rows(out)
    assert list(rows) == list(STEPS), out
    millions = {step: float(rows[step][2]) for step in STEPS}
    assert all(m > 0 for m in millions.values()), out
    parts = sum(millions[s] for s in STEPS[1:4])
    assert abs(millions["transfer (first)"] - parts) < 0.02, out
    # PAY signs and ACCEPT verifies: both multiply in the field; without a baseline, no ratio.
    assert all(int(rows[s][3].replace(",", "")) > 0 for s in ("PAY (first)", "ACCEPT (first)"))
    assert all(rows[s][4] == "-" for s in STEPS)
    boards = out.split("ESTIMATED seconds")[1]
    assert all(name in boards for name, _, _ in BOARDS), boards
    assert re.search(r"ACCEPT \(first\)(\s+\d+\.\d\d-\d+\.\d\d){%d}" % len(BOARDS), boards)
    saved = json.loads((tmp / "a.json").read_text())
    # The fastest profile by default, and the table says which.
    assert saved["profile"] == "esp32s3"
    assert "esp32s3: anchor_spans 16, peer_spans 2, collect_early 0, preload 1" in out
    assert set(saved["counts"]) == {"boot", "mode1/challenge", "mode1/pay", "mode1/accept",
                                    "mode1/transfer"}  # fmt: skip


def test_a_second_run_counts_the_same_and_prints_ratios_to_the_first(first):
    tmp, _ = first
    out = _smoke(tmp, "--baseline", str(tmp / "a.json"), "--save", str(tmp / "b.json"))
    assert "baseline unavailable" not in out
    a = json.loads((tmp / "a.json").read_text())["counts"]
    b = json.loads((tmp / "b.json").read_text())["counts"]
    for key in a:
        # callgrind counts are exact; a little room for what the machine's environment may do.
        assert abs(b[key]["instructions"] - a[key]["instructions"]) <= (
            a[key]["instructions"] * 0.001
        ), key
        assert b[key]["fmuls"] == a[key]["fmuls"], key
    rows = _rows(out)
    assert all(abs(float(rows[s][4]) - 1) <= 0.01 for s in STEPS), out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--instructions", "--modes", "5"], "is not a list of seal modes"),
        (["--instructions", "--modes", "1,1"], "names a seal mode twice"),
        (["--instructions", "--jobs", "0"], "is not a whole number"),
        (["--smoke"], "--smoke goes with --instructions"),
        (["--instructions", "--smoke", "--modes", "3"], "counts mode 1 only"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(args, message):
    done = subprocess.run(
        [sys.executable, "-m", "icpurse", "bench", "transfer", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode in (1, 2)  # argparse's 2, or sys.exit with a message (1)
    assert message in done.stderr.splitlines()[-1], done.stderr


def test_an_unknown_profile_is_a_one_line_error(tmp_path):
    need(shutil.which("valgrind") is not None, "valgrind (Debian package valgrind)")
    done = subprocess.run(
        [sys.executable, "-m", "icpurse", "bench", "transfer", "--instructions", "--smoke",
         "--profile", "esp8266"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "no board profile 'esp8266' (one of: esp32, esp32c3, esp32s3" in done.stderr
    assert "Traceback" not in done.stderr
