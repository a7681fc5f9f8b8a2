"""`icpurse bench startup`: how long `icpurse --help` takes to start, against `python -c pass`
measured in the same run on the same interpreter.

The target (issue 21) is `icpurse --help` within twice the interpreter's own start-up or within
50 ms, whichever is larger. Wall times on a shared machine are noisy, so each command runs
`--rounds` times and the median is reported; `python -X importtime` gives what the help
imports (modules and cumulative microseconds), which does not depend on the machine's load.
"""

import os
import statistics
import subprocess
import sys
import time

from icpurse.progress import progress

# The bar: twice `python -c pass`, or 50 ms if that is larger.
RATIO_BAR = 2.0
FLOOR_MS = 50.0


def _environment():
    """This environment, but with bytecode caches written and read: an installed icpurse has
    them (pip compiles at install), and without them every run compiles the modules it imports
    again, which is not what a user's start-up costs."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _median_ms(command, rounds):
    env = _environment()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=env)  # Writes caches.
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=env)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def imports(argv):
    """(modules imported, cumulative µs of the top-level imports) for `python -m icpurse ARGV`,
    from the interpreter's own -X importtime report."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "icpurse", *argv],
        capture_output=True, text=True, check=True, env=_environment(),
    )  # fmt: skip
    modules, total = [], 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:") :].split("|")
        if not cumulative.strip().isdigit():
            continue  # The header line.
        modules.append(name.strip())
        if not name.startswith("  "):  # A top-level import: its cumulative time counts once.
            total += int(cumulative)
    return modules, total


def run(args):
    progress("timing `python -c pass` and `icpurse --help`, %d runs each" % args.rounds)
    bare = _median_ms([sys.executable, "-c", "pass"], args.rounds)
    helped = _median_ms([sys.executable, "-m", "icpurse", "--help"], args.rounds)
    modules, micros = imports(["--help"])
    ours = [m for m in modules if m.split(".")[0] in ("icpurse", "purse")]
    bar = max(RATIO_BAR * bare, FLOOR_MS)
    print("start-up, median of %d runs after one that writes the bytecode caches (%s)"
          % (args.rounds, sys.executable))  # fmt: skip
    print("  python -c pass        %7.1f ms" % bare)
    print("  icpurse --help        %7.1f ms  (%.2f x python -c pass)" % (helped, helped / bare))
    print("  bar                   %7.1f ms  (max of %.0f x python -c pass, %.0f ms): %s"
          % (bar, RATIO_BAR, FLOOR_MS, "met" if helped <= bar else "NOT met"))  # fmt: skip
    print("python -X importtime -m icpurse --help:")
    print("  %d modules imported (%d of icpurse and purse), %d us cumulative at top level"
          % (len(modules), len(ours), micros))  # fmt: skip
    return 0
