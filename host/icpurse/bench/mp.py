"""Crypto measurements that run unchanged on CPython and on the MicroPython Unix port.

`icpurse bench crypto` runs this file under each interpreter with the core on the path:
    python|micropython mp.py SRC_DIR measure ROUNDS
        prints "tmulmod SECONDS" and, per operation, "op NAME FMULS NMULS INVERSIONS SECONDS"
    micropython -X heapsize=H mp.py SRC_DIR heap [precompute]
        signs and verifies once and prints "OK" (the bench bisects H)
It must stay MicroPython-compatible: no f-strings, no CPython-only modules.
"""

import sys

sys.path.insert(0, sys.argv[1])

import time

from purse.crypto import ecdsa, encoding, p256, tables
from purse.crypto.pure import PureBackend

KEY = bytes(range(1, 33))

try:
    _clock = time.perf_counter_ns
except AttributeError:
    _clock = time.time_ns


def tmulmod(rounds=4000):
    """Seconds for one 256-bit a * b % p, the loop's own cost subtracted."""
    a = p256.GX
    b = p256.GY
    prime = p256.P
    t0 = _clock()
    for _ in range(rounds):
        c = a * b % prime
    t1 = _clock()
    for _ in range(rounds):
        c = a
    t2 = _clock()
    del c
    return ((t1 - t0) - (t2 - t1)) / rounds / 1e9


def measure(name, rounds, func, args_list):
    """Run func over args_list (cycled) `rounds` times; print counts of the first and mean time."""
    p256.reset_counters()
    func(*args_list[0])
    fm, nm, inv = p256.counters()
    t0 = _clock()
    for i in range(rounds):
        func(*args_list[i % len(args_list)])
    seconds = (_clock() - t0) / rounds / 1e9
    total = 0
    for args in args_list:
        p256.reset_counters()
        func(*args)
        total += p256.counters()[0]
    print("op %s %d %d %d %.9f %.1f" % (name, fm, nm, inv, seconds, total / len(args_list)))


def run_measure(rounds):
    print("tmulmod %.12f" % tmulmod())
    d = int.from_bytes(KEY, "big")
    x, y = ecdsa.public_point(d)
    tables.generator_wnaf()
    messages = [b"payment %d" % i for i in range(16)]
    sign_args = [(d, m) for m in messages]
    sigs = [ecdsa.sign(d, m) for m in messages]
    key = ecdsa.PublicKey(x, y)
    verify_args = [(key, m, r, s) for m, (r, s) in zip(messages, sigs)]
    measure("sign", rounds, ecdsa.sign, sign_args)
    measure("verify_unknown", rounds, ecdsa.verify, verify_args)
    pre = ecdsa.PublicKey(x, y).precompute()
    pre_args = [(pre, m, r, s) for m, (r, s) in zip(messages, sigs)]
    measure("verify_precomputed", rounds, ecdsa.verify, pre_args)
    compressed = encoding.encode_point(x, y)
    measure("decompress", rounds, encoding.decode_point, [(compressed,)])
    measure("key_table", max(1, rounds // 8), tables.build, [(x, y)])
    print(
        "bytes comb %d wnaf %d key %d"
        % (tables.generator_comb().nbytes(), tables.generator_wnaf().nbytes(), pre.table.nbytes())
    )


def run_heap(precompute):
    backend = PureBackend()
    pub = backend.public_key(KEY)
    if precompute:
        backend.precompute(pub)
    sig = backend.sign(KEY, b"payment", b"\x55" * 32)
    backend.verify(pub, b"payment", sig)
    print("OK")


if sys.argv[2] == "measure":
    run_measure(int(sys.argv[3]))
else:
    run_heap(len(sys.argv) > 3)
