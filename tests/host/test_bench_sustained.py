"""`icpurse bench logger --duration S` end to end, short: each database holds the load for its
intervals, every interval stores records, and the table names the last interval's share of
the first (issue 22, problem 11: a load of 1.3 s hid PostgreSQL's decay)."""

import re
import subprocess
import sys

ROW = re.compile(
    r"^\s*(\d+)-(\d+)\s+s\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+)%( +readers)?$"
)


def test_a_held_load_prints_every_interval_on_both_databases():
    done = subprocess.run(
        [sys.executable, "-m", "icpurse", "bench", "logger", "--duration", "3", "--interval",
         "1", "--batch", "20", "--clients", "2", "--warmup", "100", "--ledger-readers", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for database in ("sqlite (1 worker)", "postgresql (2 workers)"):
        assert "%s, batch 20 x 2 clients, 3 s in intervals of 1 s" % database in out, out
    # The operator's reader ran beside the load on each database, and was answered.
    reads = [int(n) for n in re.findall(r"meanwhile 1 client\(s\) read GET /v1/ledger (\d+)", out)]
    assert len(reads) == 2 and min(reads) > 0, out
    # The readers are processes of their own, whose CPU is shown beside the figure.
    assert out.count("the readers are processes of their own: ") == 2, out
    rows = [ROW.match(line) for line in out.splitlines()]
    rows = [m for m in rows if m]
    assert len(rows) == 6, out
    assert all(int(m.group(3)) > 0 and int(m.group(6)) == 0 for m in rows), out
    # The reader reads in the odd intervals only, and the two kinds are compared.
    assert [bool(m.group(8)) for m in rows] == [False, True, False] * 2, out
    assert out.count("appends beside the readers: ") == 2, out
    assert out.count("last interval") == 2 and "TLS: off (plain http on loopback)" in out
