"""`icpurse bench logger` end to end, small: it starts the service on each database, every load
is stored in full, and the table has the throughput, latency-search and single-record rows."""

import re
import subprocess
import sys

import pytest
from mp_support import need

from icpurse.bench.logger import CPU_HEADING

ROW = re.compile(r"^(sqlite \(1 worker\)|postgresql \(2 workers\))\s+(.+?)\s{2,}(\d+)\s")


def test_bench_logger_runs_every_load_on_both_databases():
    done = subprocess.run(
        # 1,000 records a load: enough CPU for the kernel's 10 ms ticks to count in each
        # process (the latency search's short loads are shown as too short to measure).
        [sys.executable, "-m", "icpurse", "bench", "logger", "--records", "1000", "--warmup",
         "50", "--batch", "20", "--clients", "2", "--single-clients", "4",
         "--latency-requests", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # A logger that stored fewer records than were sent gets a "tree size" row.
    assert "tree size" not in done.stdout
    assert CPU_HEADING in done.stdout, done.stdout
    table, cpu_table = done.stdout.split(CPU_HEADING)
    rows = {}
    for line in table.splitlines():
        match = ROW.match(line)
        if match:
            rows.setdefault(match.group(1).split()[0], []).append(match.group(2))
    assert len(rows["sqlite"]) == 3, done.stdout
    assert rows["sqlite"][0] == "batch 20 x 2 clients"
    # The latency search's row names the load it picked and the bound; on a loaded machine
    # even its first load may miss the bound, and the row then says so.
    assert re.fullmatch(r"batch \d+ x \d+ clients, p99 (<|>=) 50 ms", rows["sqlite"][1])
    assert rows["sqlite"][2] == "single x 4 clients"
    need("postgresql" in rows, "PostgreSQL for the benchmark (%s)" % done.stderr[-300:])
    assert len(rows["postgresql"]) == 3, done.stdout
    # Every measured row refused nothing: the refused column, fifth from the right.
    for line in table.splitlines():
        if ROW.match(line):
            assert line.split()[-5] == "0", line
    # The second table splits the logger's CPU per record among its processes, for each load:
    # loop, verify, append, sign and their total, which some CPU always makes up.
    assert "loop  verify  append    sign   total" in cpu_table
    cpu_rows = [
        line for line in cpu_table.splitlines() if line.startswith(("sqlite (", "postgresql ("))
    ]
    assert len(cpu_rows) == 6, cpu_table
    for position, line in enumerate(cpu_rows):
        if line.split()[-5:] == ["-"] * 5 and position % 3 == 1:
            continue  # The latency search's load: 50 records, too short to measure.
        loop, verify, append, sign, total = map(int, line.split()[-5:])
        assert total > 0 and total == pytest.approx(loop + verify + append + sign, abs=3), line
    assert "-: the load was too" in cpu_table
