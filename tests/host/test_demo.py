"""The main job: `icpurse demo` runs to the end and the logger agrees with the cards."""

import re
import subprocess
import sys


def test_demo_runs_and_balances_agree():
    # About a minute: the demo waits, as the logger must, until the payments in doubt can no
    # longer be credited by any recipient before it refunds them (icpurse.logger.REFUND_DELAY_MIN).
    done = subprocess.run(
        [sys.executable, "-m", "icpurse", "demo"], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    rows = re.findall(
        r"^   (alice|bob|carol)\s+(micropython|cpython)\s+(\d+) .* (\d+)  =$", out, re.M
    )
    assert len(rows) == 3, out
    assert "micropython" in {r[1] for r in rows}
    # The substituted payment of the attack is refused: what bob signed is in doubt, then
    # refunded to bob; nothing is created.
    assert "attack: bob's card answers with a withheld payment of 1; refused" in out
    assert "conservation: issued 12000 = sum of card balances 11499 + in doubt 501: holds" in out
    assert "refused, nothing moved" in out and "insufficient funds" in out
    assert "bob's two payments of the refused attack were refunded to bob, who holds 4900" in out
    assert "the three cards left hold 12000 of the 12000 loaded" in out
