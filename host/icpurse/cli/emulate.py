"""`icpurse emulate`: run firmware/main.py as a virtual card behind a pseudo-terminal."""

import argparse
import errno
import fcntl
import os
import re
import signal
import stat
import sys
from pathlib import Path

from icpurse.cli import argtypes
from icpurse.emulator import BLOCK, DEFAULT_HEAP, DEFAULT_SOCKET, RUNTIMES
from icpurse.errors import UsageError

# The smallest flash a bare board gets: eight blocks, room for LittleFS's two superblocks and a
# few files (the wallet itself needs far more; `icpurse flash` says so when it does not fit).
MIN_FLASH = 8 * BLOCK
# MicroPython's -X heapsize: a number of bytes, or of kilo- or megabytes.
_HEAP = re.compile(r"[1-9][0-9]*[KkMm]?")
# In a card's state directory: held locked by the one `icpurse emulate` that runs the card.
LOCK_FILE = "emulate.lock"


def _probability(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("%r is not a probability from 0 to 1" % text)
    return value


def _heap(text):
    if not _HEAP.fullmatch(text):
        raise argparse.ArgumentTypeError(
            "%r is not a heap size: give bytes, or K or M after the number, such as 160K" % text
        )
    return text


def _directory(path, what):
    """Make the directory `path` if it is missing; a UsageError says why it cannot be used."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError("%s is a file, not a directory for %s" % (path, what))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError("cannot make %s for %s: %s" % (path, what, exc.strerror or exc)) from None


def _lock(directory):
    """Lock the card's state directory for the life of this process, or say who holds it.

    Two emulators on one directory would be two copies of one card, paying from the same
    store: a clone made by accident. The lock is flock(2) on DIR/emulate.lock, which the kernel
    releases when the process ends however it ends, so a killed emulator never leaves the
    directory locked. Returns the file descriptor, which must stay open."""
    path = os.path.join(str(directory), LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError("cannot lock %s: %s" % (path, exc.strerror or exc)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            raise UsageError(
                "the card in %s is already running in another icpurse emulate%s; two would be"
                " clones of one card" % (directory, " (process %s)" % holder if holder else "")
            ) from None
        raise UsageError("cannot lock %s: %s" % (path, exc.strerror or exc)) from None
    # The holder's process id, for the message above; the lock itself is what counts.
    os.ftruncate(fd, 0)
    os.write(fd, b"%d\n" % os.getpid())
    return fd


def _board_name(text):
    from icpurse import timeouts

    try:
        return timeouts.parse_name(text.encode())
    except timeouts.BadBoardName as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _slow(text):
    """NAME:MS, such as accept:4000: a command (by its name in purse.proto) and milliseconds."""
    from purse import proto

    name, _, ms = text.partition(":")
    ins = getattr(proto, "INS_" + name.strip().upper().replace(" ", "_").replace("-", "_"), None)
    if ins is None or not ms.isdigit() or not 0 < int(ms) <= 600000:
        raise argparse.ArgumentTypeError(
            "%r is not COMMAND:MS, such as accept:4000 (a command's name, then 1 to 600000 ms)"
            % text
        )
    return ins, int(ms) / 1000.0


def _profile(text):
    from icpurse import firmware_files

    if text not in firmware_files.boards():
        raise argparse.ArgumentTypeError(
            "no board profile %r (one of: %s)" % (text, ", ".join(firmware_files.boards()))
        )
    return text


def _serial_device(path):
    """--nfc-device: the card opens it only at its first tap, so say now if it cannot be one."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise UsageError("--nfc-device %s: %s" % (path, exc.strerror or exc)) from None
    if not stat.S_ISCHR(mode):
        raise UsageError("--nfc-device %s is not a serial device (a pty or a tty)" % path)


def emulate_bare(args):
    from icpurse.emulator.board import BoardError, Bridge

    _directory(args.bare, "the board's flash")
    try:
        bridge = Bridge(
            args.bare, args.heap, args.flash_size,
            log=lambda text: print("icpurse emulate: %s" % text, file=sys.stderr, flush=True),
        )  # fmt: skip
    except BoardError as exc:
        raise UsageError(str(exc)) from None
    # SIGTERM ends the emulator as Ctrl-C does, from the moment it announces itself: a program
    # that read the first line may stop it at once, and the board must be closed all the same.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        print("board on %s" % bridge.pty_path, flush=True)
        print(
            "icpurse emulate: a bare MicroPython board (Unix port), %d KiB of flash in %s; flash"
            " the wallet with `icpurse flash --port %s`; Ctrl-C stops it"
            % (bridge.blocks * 4, bridge.image, bridge.pty_path),
            file=sys.stderr, flush=True,
        )  # fmt: skip
        bridge.run()
    except KeyboardInterrupt:
        pass
    finally:
        bridge.close()
    return 0


def emulate(args):
    from icpurse.emulator import relay, runtime

    if args.bare is not None:
        return emulate_bare(args)
    if args.state is None:
        raise UsageError("give --state DIR (an emulated card) or --bare DIR (a bare board)")
    try:
        command = runtime.command(args.runtime, args.heap)
    except (FileNotFoundError, RuntimeError) as exc:
        raise UsageError(str(exc)) from None
    _directory(args.state, "the card's state")
    # Locked before anything is written or joined: a second emulator of this card must leave
    # the running one's config.json and RF field as they are. The descriptor stays open with
    # args while the card runs, as the field connection does.
    args.state_lock = _lock(args.state)
    nfc_device = args.nfc_device
    if nfc_device is not None:
        _serial_device(nfc_device)
    if args.nfc is not None:
        from icpurse.emulator.fieldserver import join

        try:
            # The connection stays open while the card runs: the chip lives as long as it.
            nfc_device, args.field_connection = join(args.nfc)
        except OSError as exc:
            raise UsageError(str(exc)) from None
    runtime.write_config(
        args.state,
        args.seed,
        args.cut_at,
        nfc_device,
        args.memory_error_at,
        args.board,
        args.profile,
    )
    faults = relay.Faults(
        args.drop,
        args.duplicate,
        args.corrupt,
        args.delay,
        args.delay_ms / 1000.0,
        args.fault_seed,
    )
    try:
        link = relay.Relay(
            command, str(args.state), faults, args.tcp,
            log=lambda text: print("icpurse emulate: %s" % text, file=sys.stderr, flush=True),
            slow=dict(args.slow or ()),
        )  # fmt: skip
    except OSError as exc:
        # No pseudo-terminal left, or --tcp's port is taken or not ours to take.
        where = "a pseudo-terminal" if args.tcp is None else "socket://127.0.0.1:%d" % args.tcp
        raise UsageError("cannot serve %s: %s" % (where, exc.strerror or exc)) from None
    # SIGTERM ends the emulator as Ctrl-C does, from the moment it announces itself: a program
    # that read the first line may stop it at once (a test under load did, and saw -15), and
    # the card's process must be closed all the same.
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    code = None
    try:
        # The first line is for programs (EmulatedCard reads it); people read the rest.
        print("card on %s" % link.pty_path, flush=True)
        if args.tcp is not None:
            print("also on socket://127.0.0.1:%d" % args.tcp, flush=True)
        print(
            "icpurse emulate: %s card, state in %s; Ctrl-C stops it" % (args.runtime, args.state),
            file=sys.stderr,
            flush=True,
        )
        code = link.run()
    except KeyboardInterrupt:
        code = None
    finally:
        link.close()
    if code == 0:
        # The pty never ends the card's input, so the firmware returned on its own: a card not
        # yet personalised accepted the link's escape to the REPL, which an emulated card lacks.
        print(
            "icpurse emulate: the wallet left for the REPL (asked by its link), which an"
            " emulated card does not have, so the card stops; icpurse emulate --bare DIR runs a"
            " board to flash",
            file=sys.stderr,
            flush=True,
        )
    elif code is not None:
        raise UsageError("the card's firmware exited with status %s" % code)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser(
        "emulate", help="run a virtual card (the firmware's own main.py) on a pty",
        description="Run a virtual card: firmware/main.py on the MicroPython Unix port (or\n"
        "CPython) behind a pseudo-terminal, with fault injection (--state DIR). Or, with\n"
        "--bare DIR, a bare MicroPython board: the Unix port's REPL on the pty and a LittleFS\n"
        "flash image, for `icpurse flash` and `icpurse provision` without hardware.",
    )  # fmt: skip
    p.add_argument("--state", help="the card's directory (created if missing)")
    p.add_argument(
        "--bare", metavar="DIR",
        help="run a bare board instead: its flash image and boot script live in DIR",
    )  # fmt: skip
    p.add_argument(
        "--flash-size", type=argtypes.count(MIN_FLASH), default=1024 * 1024, metavar="BYTES",
        help="bytes of a new bare board's flash file system, rounded down to whole 4 KiB blocks"
        " (default 1 MiB, at least %d)" % MIN_FLASH,
    )  # fmt: skip
    p.add_argument(
        "--runtime", choices=RUNTIMES, default="micropython",
        help="MicroPython Unix port (default) or CPython",
    )  # fmt: skip
    p.add_argument(
        "--heap", type=_heap, default=DEFAULT_HEAP,
        help="MicroPython heap (default %s)" % DEFAULT_HEAP,
    )  # fmt: skip
    p.add_argument(
        "--seed", type=argtypes.hex_seed,
        help="hex seed: reproducible randomness (keys, challenges)",
    )  # fmt: skip
    p.add_argument(
        "--cut-at",
        type=argtypes.count(1),
        metavar="OP",
        help="cut the power at this store operation (the first is 1)",
    )
    p.add_argument(
        "--memory-error-at", type=argtypes.count(1), metavar="OP",
        help="raise a MemoryError at this store operation (the card restarts itself)",
    )  # fmt: skip
    p.add_argument(
        "--profile", type=_profile, metavar="BOARD",
        help="boot with the speed and memory settings of a board profile (anchor_spans,"
        " peer_spans, collect_early, preload of firmware/boards/BOARD.json), such as esp32"
        " (the classic ESP32's) or esp32s3 (the fast profile's); default: the Unix port's",
    )  # fmt: skip
    p.add_argument(
        "--tcp", type=argtypes.port, metavar="PORT", help="also serve socket://127.0.0.1:PORT"
    )
    p.add_argument(
        "--nfc", nargs="?", const=DEFAULT_SOCKET, metavar="SOCKET",
        help="give the card a simulated PN532 in the RF field of `icpurse field` (default "
        "socket %s)" % DEFAULT_SOCKET,
    )  # fmt: skip
    p.add_argument(
        "--nfc-device", metavar="PATH",
        help="give the card a PN532 on this pty (HSU), such as a simulated chip's; taps are "
        "then asked for over the link (FRAME_BOARD: arm, listen, receive)",
    )  # fmt: skip
    for name, help_text in (
        ("drop", "probability of dropping a frame"),
        ("duplicate", "probability of sending a frame twice"),
        ("corrupt", "probability of flipping a bit of a frame"),
        ("delay", "probability of delaying a frame"),
    ):
        p.add_argument("--" + name, type=_probability, default=0.0, help=help_text)
    p.add_argument(
        "--delay-ms",
        type=argtypes.count(0, 60000),
        default=200,
        help="length of an injected delay, in milliseconds (default 200)",
    )
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault injection")
    p.add_argument(
        "--board", type=_board_name, default="unix", metavar="NAME",
        help="the board profile the card names (default unix), from which a host picks its"
        " timeouts: docs/HARDWARE.md, \"Host timeouts\"",
    )  # fmt: skip
    p.add_argument(
        "--slow", type=_slow, action="append", metavar="COMMAND:MS",
        help="answer this command (such as accept:4000) only after MS milliseconds, as a slow"
        " board would, reading nothing meanwhile (repeatable)",
    )  # fmt: skip
    p.set_defaults(handler=emulate)
