"""The main job: `icpurse demo` runs to the end and the logger agrees with the cards."""

import re
import subprocess
import sys
import time


def test_demo_runs_and_balances_agree():
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "icpurse", "demo"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    rows = re.findall(
        r"^   (alice|bob|carol)\s+(micropython|cpython)\s+(\d+) .* (\d+)  =$", out, re.M
    )
    assert len(rows) == 3, out
    assert "micropython" in {r[1] for r in rows}
    assert "conservation: issued 12000 = sum of card balances 12000 (in doubt 0): holds" in out
    assert "refused, nothing moved" in out and "insufficient funds" in out
    assert time.monotonic() - start < 60
