"""`icpurse bench transfer`: one transfer between two emulated cards over the pty link.

For both cards on CPython and both on MicroPython (firmware precompiled by mpy-cross, as a
board holds it) it prints the end-to-end time of a transfer and of each step (MAKE CHALLENGE,
PAY, ACCEPT), the heap a MicroPython card holds after each step (gc.mem_alloc, asked over the
link), the smallest `-X heapsize` with which a whole provisioning and transfer still completes
(bisection) for each board profile of PROFILES, and the size of firmware/ compiled by mpy-cross.
"""

import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from icpurse import firmware_files
from icpurse.crypto_pyca import PycaBackend
from icpurse.emulator import DEFAULT_HEAP, runtime
from icpurse.emulator.card import EmulatedCard, EmulatorError
from icpurse.progress import progress
from icpurse.seriallink import LinkError
from purse import proto
from purse.client import CardError, CardReset, personalise
from purse.crypto.backend import Signer
from purse.records.checkpoint import log_id
from purse.records.credentials import Certificate, RiskParameters, Voucher
from purse.records.logger import Ticket
from purse.records.stamp import Stamp

# The board profiles whose heap is bisected: (label, board profile, target on the 64-bit Unix
# port). The emulated cards boot with the profile's speed and memory settings (icpurse emulate
# --profile): the classic ESP32's keeps no tables of the anchors' or the peers' keys and has
# the lean generator tables, the fast profile's (ESP32-S3) three of 8 KiB and two of 1 KiB, and
# loads the transfer's code at boot (docs/HARDWARE.md, "Board profiles").
PROFILES = (("classic", "esp32", 128), ("fast", "esp32s3", 192))
# Heap on a 32-bit board per heap on the 64-bit Unix port: issue 23 measured 109K on a 32-bit
# MicroPython Unix build where the 64-bit port needed 151K, for provisioning and a transfer.
# An estimate for other figures, not a measurement.
RATIO_32BIT = 0.72


def _authorities():
    """Throwaway authorities for the benchmark's cards: CA, issuer, logger."""
    backend = PycaBackend()
    return [
        Signer(backend, hashlib.sha256(b"icpurse bench " + label).digest())
        for label in (b"T", b"I", b"L")
    ]


class Bench:
    def __init__(self, ltime=None):
        """`ltime`: the L-time of every record signed here (now by default); a fixed one, with
        the authorities' fixed keys and RFC 6979 signatures, makes every record the same on
        every run (the instruction counts of icpurse.bench.instructions depend on it)."""
        self.ca, self.issuer, self.logger = _authorities()
        # The benchmark's log, which no logger keeps: its records are signed here.
        self.log_id = log_id(self.logger.public_key, b"icpurse bench genesis")
        self.ltime = int(time.time()) if ltime is None else ltime
        self.risk = (
            RiskParameters(1, 100000, 20000, 50000, 86400, self.ltime - 86400, self.ltime + 86400)
            .sign(self.issuer)
            .encode()
        )

    def provision(self, client, amount):
        logger = self.logger.public_key + self.log_id  # PkL with the id of the bench's log.
        anchors = (self.ca.public_key, self.issuer.public_key, logger)
        info = personalise(
            client, anchors,
            lambda pk: Certificate(1, pk, self.ltime - 86400, self.ltime + 86400)
            .sign(self.ca).encode(),
            self.risk,
            lambda nonce: Ticket(nonce, self.ltime, self.log_id).sign(self.logger).encode(),
        )  # fmt: skip
        voucher = Voucher(info.public_key, amount, 1, self.ltime, self.log_id).sign(self.issuer)
        client.load_voucher(voucher.encode())
        # The logger's first stamp, which every payment shows (docs/PROTOCOL.md section 7.0).
        stamp = Stamp(info.card_id, 0, self.ltime, self.log_id)
        client.take_stamp(stamp.sign(self.logger).encode())


def _memory(card):
    try:
        text = card.link.ping(proto.MEMORY_QUERY).decode()
    except (LinkError, UnicodeDecodeError):
        return None
    parts = text.split()
    return int(parts[0]) if parts and parts[0].isdigit() else None


def _one_runtime(bench, name, heap=None, rounds=3, profile=None):
    """Step timings (seconds) and MicroPython heap use for `rounds` transfers, the cards booting
    with the board profile `profile`'s settings (None: the emulator's)."""
    with tempfile.TemporaryDirectory() as tmp:
        a = EmulatedCard(Path(tmp) / "a", runtime=name, heap=heap, seed="aa", profile=profile)
        b = EmulatedCard(Path(tmp) / "b", runtime=name, heap=heap, seed="bb", profile=profile)
        with a, b:
            started = _resets(a, b)
            bench.provision(a.client, 100000)
            bench.provision(b.client, 0)
            steps = {"MAKE CHALLENGE": [], "PAY": [], "ACCEPT": [], "transfer": []}
            heap_use = {"payer": [], "recipient": []}
            for _ in range(rounds):
                t0 = time.perf_counter()
                challenge = b.client.make_challenge(100)
                t1 = time.perf_counter()
                payment = a.client.pay(challenge)
                t2 = time.perf_counter()
                b.client.accept(challenge, payment)
                t3 = time.perf_counter()
                steps["MAKE CHALLENGE"].append(t1 - t0)
                steps["PAY"].append(t2 - t1)
                steps["ACCEPT"].append(t3 - t2)
                steps["transfer"].append(t3 - t0)
                heap_use["payer"].append(_memory(a))
                heap_use["recipient"].append(_memory(b))
            _no_restarts(started, a, b)
            return steps, heap_use


def _resets(*cards):
    """How many times each card's link has seen it start (its boot notice included)."""
    return [card.link.resets for card in cards]


def _no_restarts(started, *cards):
    """A card that ran out of heap restarts itself and the link resends, so the transfer still
    completes: for a heap figure that would not count as working."""
    for before, card in zip(started, cards):
        if card.link.resets != before:
            raise EmulatorError("card %s restarted after a fault" % card.state_dir.name)


def _works(bench, heap, profile=None):
    """Provisioning and a transfer in one boot, both cards under `heap`."""
    try:
        _one_runtime(bench, "micropython", heap, rounds=1, profile=profile)
        return True
    except (EmulatorError, LinkError, CardError, CardReset):
        return False


def _works_after_reboot(bench, heap, profile=None):
    """Cards provisioned under the default heap, then started again under `heap` — as a board
    is personalised once and then only trades — pay and accept in all four seal modes."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            a = EmulatedCard(Path(tmp) / "a", runtime="micropython", seed="aa", profile=profile)
            b = EmulatedCard(Path(tmp) / "b", runtime="micropython", seed="bb", profile=profile)
            with a, b:
                bench.provision(a.client, 100000)
                bench.provision(b.client, 0)
            a.heap = b.heap = heap
            with a, b:
                a.client.select()
                b.client.select()
                started = _resets(a, b)
                for mode in proto.SEAL_MODES:
                    challenge = b.client.make_challenge(100, mode)
                    b.client.accept(challenge, a.client.pay(challenge))
                _no_restarts(started, a, b)
        return True
    except (EmulatorError, LinkError, CardError, CardReset):
        return False


def smallest_heap(works, bench, low=64, high=512):
    """Bisect, in KiB, the smallest heap with which `works(bench, heap)` succeeds."""
    if not works(bench, "%dK" % high):
        return None
    while high - low > 2:
        mid = (low + high) // 2
        progress("heap %dK" % mid)
        if works(bench, "%dK" % mid):
            high = mid
        else:
            low = mid
    return high


def _kib(value):
    if not value:
        return "more than 512K"
    return "%dK, about %dK on a 32-bit board" % (value, round(value * RATIO_32BIT))


def firmware_size():
    compiled = runtime.compiled_firmware()
    mpy = sum(p.stat().st_size for p in compiled.rglob("*.mpy"))
    source = sum(p.stat().st_size for _, p in firmware_files.board_files())
    return mpy, source


def run(args):
    bench = Bench()
    results = {}
    for name in ("cpython", "micropython"):
        progress("%s: two cards, %d transfers" % (name, args.rounds))
        results[name] = _one_runtime(bench, name, None, args.rounds)
    smallest = []
    for label, board, target in PROFILES:
        progress("%s profile: the smallest heap, provisioning and a transfer in one boot" % label)
        one_boot = smallest_heap(lambda b, heap, p=board: _works(b, heap, p), bench)
        progress("%s profile: the smallest heap, transfers after a reboot" % label)
        rebooted = smallest_heap(lambda b, heap, p=board: _works_after_reboot(b, heap, p), bench)
        smallest.append((label, board, target, one_boot, rebooted))
    mpy, source = firmware_size()
    print()
    print("one transfer between two emulated cards over ptys (median of %d)" % args.rounds)
    print("%-16s %12s %12s" % ("step", "CPython", "MicroPython"))
    print("-" * 42)
    for step in ("MAKE CHALLENGE", "PAY", "ACCEPT", "transfer"):
        row = [statistics.median(results[n][0][step]) * 1000 for n in ("cpython", "micropython")]
        print("%-16s %9.1f ms %9.1f ms" % (step, row[0], row[1]))
    total = statistics.median(results["micropython"][0]["transfer"])
    print()
    print("share of a MicroPython transfer: " + ", ".join(
        "%s %.0f%%" % (s, 100 * statistics.median(results["micropython"][0][s]) / total)
        for s in ("MAKE CHALLENGE", "PAY", "ACCEPT")))  # fmt: skip
    heap = results["micropython"][1]
    print(
        "MicroPython heap in use after a transfer (gc.mem_alloc, %s heap): payer %s B, "
        "recipient %s B" % (DEFAULT_HEAP, max(heap["payer"]), max(heap["recipient"]))
    )
    print()
    print("smallest -X heapsize on the 64-bit Unix port (bisection, 2K steps), by board profile")
    print(
        "(32-bit figures are estimates: x%.2f, from issue 23's 109K on a 32-bit build for 151K"
        " on this port)" % RATIO_32BIT
    )
    for label, board, target, one_boot, rebooted in smallest:
        for what, value in (
            ("provisioning + a transfer in one boot", one_boot),
            ("transfers in all four seal modes after a reboot", rebooted),
        ):
            print(
                "  %s profile (%s), %s: %s (target %dK)"
                % (label, board, what, _kib(value), target)
            )
    print("firmware/: %d bytes of source, %d bytes compiled by mpy-cross" % (source, mpy))
    return 0
