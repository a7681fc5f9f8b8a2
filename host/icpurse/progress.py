"""Progress lines for long work (benchmarks, waits): on stderr, so that results on stdout stay
clean for a pipe."""

import sys


def progress(text):
    print("... " + text, file=sys.stderr, flush=True)
