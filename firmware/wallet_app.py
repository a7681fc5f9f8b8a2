"""The wallet on a board, and on the emulator (same files, MicroPython or CPython); main.py
imports it and calls run().

It reads `config.json` from the current directory (the board's root after flashing, the state
directory of an emulated card), opens the card's store, and serves the applet over COBS frames
on the configured link: USB CDC (stdin/stdout) or a UART. Before personalisation a PING frame
carrying proto.REPL_ESCAPE returns to the REPL; after LOCK the link never does, and only
re-flashing (which wipes the card) gets the REPL back.

config.json keys (firmware/boards/*.json are the per-board defaults):
    board     name of the board profile, which the link tells the host (it picks its timeouts
              from it: docs/HARDWARE.md, "Host timeouts")
    link      "stdio" (USB CDC, or a pipe on the emulator) or "uart"
    uart      {"id": 1, "baudrate": 115200, "tx": 25, "rx": 26} for link "uart"; "rxbuf" sizes
              its input buffer (default UART_RXBUF)
    state     directory of the card store (LittleFS on boards; FAT is not supported)
    button    pin number of the confirmation button (pressed = low); null: confirm all
    seed      emulator only: hex seed for reproducible randomness (without it the card keeps
              its entropy pool's seed in entropy.seed, beside the store)
    cut_at    emulator only: cut the power at this store operation (proto.EXIT_POWER_CUT)
    memory_at emulator only: a MemoryError at this store operation (the wallet restarts itself)
    pn532     the NFC reader's bus and pins (pn532_bus.open_bus); taps are asked for with
              FRAME_BOARD commands (nfc_board)
"""

import gc
import sys

# While the wallet's modules load, garbage is collected after every 4 KB allocated: each module
# leaves garbage (its top-level code, outgrown dictionaries) between what it keeps, and a heap
# collected only when full is left in holes too small for the next large block (a qstr pool,
# the generator's 8 KB table). A classic ESP32's heap boots in about 25K less this way
# (docs/DESIGN.md section 11); once they are loaded, main() sets the threshold the card keeps.
if hasattr(gc, "threshold"):
    gc.threshold(4096)

try:
    import json
except ImportError:  # Very small ports ship it as ujson.
    import ujson as json

from cardfs import FileBackend
from entropy import Entropy
from link import CardLink
from runclock import RunningClock

from purse import proto
from purse.applet import Applet
from purse.compat import MICROPYTHON
from purse.crypto import tables
from purse.crypto.pure import PureBackend
from purse.store import PowerCut, Store
from purse.wallet.card import Card
from purse.wallet.state import MAX_ENCODED

if hasattr(gc, "threshold"):
    gc.threshold(-1)  # Loaded: no collection but a full heap's until main() sets the card's.

# A board: MicroPython on anything but the Unix port (the emulator, as is CPython).
_ON_BOARD = MICROPYTHON and sys.platform not in ("linux", "darwin")
BUTTON_SECONDS = 20
# Bytes of a UART link's input buffer: a whole frame (proto.MAX_FRAME_PAYLOAD and 10 bytes of
# framing) and the host's probes while a command runs, with room to spare. The ports' default
# (256 bytes, with the ESP32's 128-byte FIFO) held one frame but not a resent one.
UART_RXBUF = 512


def load_config(path="config.json"):
    with open(path) as f:
        return json.load(f)


def _stdio():
    """Byte-level read and write on stdin/stdout, with Ctrl-C disabled on the link."""
    try:
        import micropython

        micropython.kbd_intr(-1)
    except (ImportError, AttributeError):
        pass
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    # CPython's buffered stdin has read1 (what is there, at least one byte); MicroPython's
    # read(n) waits for all n bytes, so it reads one at a time.
    read1 = getattr(stdin, "read1", None)

    def read(n):
        return read1(n) if read1 is not None else stdin.read(1)

    def write(data):
        stdout.write(data)
        flush = getattr(stdout, "flush", None)
        if flush is not None:
            flush()

    return read, write


def _uart(options):
    import machine

    uart = machine.UART(
        options.get("id", 1),
        baudrate=options.get("baudrate", 115200),
        tx=options.get("tx"),
        rx=options.get("rx"),
        rxbuf=options.get("rxbuf", UART_RXBUF),
        timeout=1000,
    )

    def read(n):
        data = uart.read(1)
        return data if data is not None else b"\x00"  # A timeout: keep waiting.

    def write(data):
        uart.write(data)

    return read, write


def button_pressed(pin_number, seconds):
    """True once the button on `pin_number` (pressed = low) is pressed within `seconds`."""
    import time

    import machine

    pin = machine.Pin(pin_number, machine.Pin.IN, machine.Pin.PULL_UP)
    deadline = time.ticks_add(time.ticks_ms(), seconds * 1000)
    while time.ticks_diff(deadline, time.ticks_ms()) > 0:
        if pin.value() == 0:
            return True
        time.sleep_ms(20)
    return False


def _button_confirm(pin_number):
    """The holder confirms a payment by pressing the button within BUTTON_SECONDS."""

    def confirm(x, recipient):
        return button_pressed(pin_number, BUTTON_SECONDS)

    return confirm


def _preload(config):
    """With `"preload": true` in the profile, import the payer's and the recipient's code at
    boot instead of at the first PAY and MAKE CHALLENGE (purse.applet loads them on first use
    to keep a small heap free): a board with room then spends no time of its first tap on
    loading modules (about 6 M of a first transfer's 250 M instructions on the Unix port)."""
    if config.get("preload"):
        for name in ("payer", "recipient"):
            __import__("purse.wallet." + name, None, None, (name,))


def _collect_early(config=None):
    """Collect garbage after every quarter of the free heap is allocated (the MicroPython
    documentation's advice against fragmentation): a transfer's big-integer churn then leaves
    room for the records it builds at the end. A profile with a large heap says
    `"collect_early": false`: collecting only when the heap is full (and not before each
    command either, link.CardLink) then saves about a tenth of a first transfer's instructions
    (callgrind, `icpurse bench transfer --instructions`), where fragmentation is no danger."""
    try:
        import gc

        gc.collect()
        if config is None or config.get("collect_early", True):
            gc.threshold(gc.mem_free() // 4 + gc.mem_alloc())
    except (ImportError, AttributeError):
        pass  # CPython: no heap to manage.


def _nfc(card, applet, options, button, board=None):
    """The FRAME_BOARD handler of a board with a PN532, made on the first board command: the
    driver and the tap code stay out of the heap until a tap is asked for."""
    made = []

    def handle(payload):
        if not made:
            from nfc_board import NfcBoard

            made.append(NfcBoard(card, applet, options, button, board))
        return made[0](payload)

    return handle


def build_card(config):
    backend = FileBackend(config.get("state", "icpurse"))
    cut_at = config.get("cut_at")
    memory_at = config.get("memory_at")
    if cut_at is not None or memory_at is not None:
        from purse.faults import FaultPoint  # Emulated faults only: a board never loads it.

        backend = FaultPoint(
            backend,
            None if cut_at is None else int(cut_at),
            None if memory_at is None else int(memory_at),
        )
    seed = config.get("seed")
    rng = Entropy(bytes.fromhex(seed) if seed else None)
    # The pool goes on from where the last boot left it, through a seed file in the card's
    # directory (the current one), outside the store, whose garbage collection would remove it.
    # A fixed seed is left as it is, for reproducible runs.
    rng.reseed(FileBackend("."))
    confirm = None
    if config.get("button") is not None:
        confirm = _button_confirm(config["button"])
    # The commit's buffer is made now, while the heap is in one piece (purse.store.Store).
    # The anchors' and the recent peers' tables (purse.wallet.card, purse.crypto.pure): the
    # profile says whether the board has the memory for them (docs/HARDWARE.md).
    return Card(
        Store(backend, reserve=MAX_ENCODED), rng, RunningClock(),
        PureBackend(peer_spans=int(config.get("peer_spans", 0))), confirm,
        int(config.get("anchor_spans", 0)),
    )  # fmt: skip


def main():
    # The generator's tables are two blocks of 8 and 2 KB that every signature and
    # verification needs: loaded first (purse.crypto.tables: their bytes are generated at build
    # time), while the heap is still in one piece, they always find room; loaded in the middle
    # of a transfer, a fragmented heap may not have it. (A wallet held as source has them
    # loaded by main.py, before it is compiled.) The profile says first whether they take the
    # lean shape (`"lean_tables": true`, the classic ESP32's: docs/HARDWARE.md).
    config = load_config()
    gc.collect()
    tables.lean(config.get("lean_tables", False))
    tables.generator_comb()
    tables.generator_wnaf()
    card = build_card(config)
    _preload(config)
    _collect_early(config)
    if config.get("link", "stdio") == "uart":
        read, write = _uart(config.get("uart", {}))
    else:
        read, write = _stdio()
    applet = Applet(card)
    board = None
    if config.get("pn532"):
        board = _nfc(card, applet, config["pn532"], config.get("button"), config.get("board"))
    link = CardLink(
        read, write, applet, board, config.get("board"), config.get("collect_early", True)
    )
    # Tell the host the card (re)started (it selects the applet again before going on) and on
    # which board profile (it picks its timeouts from it).
    link.announce()
    try:
        return link.serve()
    except PowerCut:
        sys.exit(proto.EXIT_POWER_CUT)
    except Exception as exc:  # noqa: BLE001 - any fault restarts; none may open the REPL.
        restart(exc)


def restart(exc):
    """Start the wallet again with a fresh heap after a fault no handler refused cleanly: a
    MemoryError in a fragmented heap, or a bug. Falling back to the REPL would open a
    personalised card's flash, secret key included, to whoever holds its cable (docs/DESIGN.md
    section 4); a restart instead is what a power cut does, which every commit survives, and
    the host sees the boot notice and sends the command again to a heap in one piece."""
    # The fault and where it happened go to the console for whoever debugs the board (on a
    # board's USB link it is noise between frames, which the host skips). A MicroPython
    # traceback names functions, not values, and no message of the core holds key material.
    print_exception = getattr(sys, "print_exception", None)
    if print_exception is not None:
        print_exception(exc, sys.stderr)
    else:  # CPython: its default hook prints the traceback to stderr.
        sys.excepthook(type(exc), exc, exc.__traceback__)
    print("icpurse: %s; restarting" % exc.__class__.__name__, file=sys.stderr)
    if _ON_BOARD:
        import machine

        machine.soft_reset()  # Raises SystemExit: MicroPython resets once it reaches the top.
    # The Unix port's soft_reset only exits, as sys.exit() does: the emulators see the status
    # and start the wallet again.
    sys.exit(proto.EXIT_RESTART)


def run():
    if main() == "repl":
        print("icpurse: link closed, REPL")
