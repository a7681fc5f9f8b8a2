"""Two `icpurse emulate` on one state directory would be two copies of one card (a clone made by
accident): the second is refused with a one-line error while the first runs."""

import json
import subprocess
import sys


def _start(state, seed):
    return subprocess.Popen(
        [sys.executable, "-m", "icpurse", "emulate", "--state", str(state), "--runtime",
         "cpython", "--seed", seed],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_two_emulators_cannot_share_a_state_directory(tmp_path):
    state = tmp_path / "card"
    first = _start(state, "aa")
    second = None
    try:
        assert first.stdout.readline().startswith("card on ")
        second = _start(state, "bb")
        # The second must stop at once: if it prints a pty, two cards share one store.
        line = second.stdout.readline()
        assert not line.startswith("card on "), "a second emulator serves the same card"
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "icpurse: error: " in err and str(state) in err
        # Refused before it touched anything: the running card's config is its own.
        assert json.loads((state / "config.json").read_text())["seed"] == "aa"
        assert first.poll() is None
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(10)
    # Once the first has stopped, the directory is free again.
    third = _start(state, "aa")
    try:
        assert third.stdout.readline().startswith("card on ")
    finally:
        third.terminate()
        assert third.wait(10) == 0
