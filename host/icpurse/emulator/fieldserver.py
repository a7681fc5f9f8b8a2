"""One RF field for emulated boards in different processes (`icpurse field`).

Each `icpurse emulate --nfc SOCKET` asks the field server for a simulated PN532: the server
makes a PtyChip in its one Field and answers with the chip's pty, which the board opens as its
PN532's UART. All chips of a server share the field, as boards held together do; the chip
lives as long as the board's connection. The protocol is one line each way:
    board -> server:  "chip\\n"
    server -> board:  "/dev/pts/N\\n"
"""

import os
import socket
import stat
import threading

from icpurse.emulator.pn532pty import PtyChip
from icpurse.emulator.pn532sim import Field


class FieldError(Exception):
    """The field server cannot listen at the path it was given; the message says why."""


def _clear_stale(path):
    """Remove the socket a field server left at `path` when it ended without closing (killed),
    and nothing else: not a file that is not a socket, nor the socket of a running server."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FieldError("%s exists and is not a socket: give another --socket" % path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # Nobody listens: a socket left behind.
        return
    except OSError as exc:
        raise FieldError("cannot use %s: %s" % (path, exc.strerror or exc)) from None
    finally:
        probe.close()
    raise FieldError("something already listens on %s (another icpurse field?)" % path)


class FieldServer:
    def __init__(self, path, log=None):
        self.path = str(path)
        self.field = Field()
        self.log = log or (lambda text: None)
        _clear_stale(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(self.path)
        except OSError as exc:
            self.sock.close()
            reason = exc.strerror or exc
            raise FieldError("cannot listen on %s: %s" % (self.path, reason)) from None
        self.sock.listen(8)
        self._closed = False

    def _serve(self, conn):
        with conn:
            if conn.makefile("r").readline().strip() != "chip":
                return
            with PtyChip(self.field) as chip:
                conn.sendall((chip.path + "\n").encode())
                self.log("a board joined the field on %s" % chip.path)
                while conn.recv(64):
                    pass  # Until the board's emulator goes away.
                self.log("the board on %s left the field" % chip.path)

    def run(self):
        """Serve boards until close()."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self._closed:
                    return  # close() from another thread ends the accept.
                raise
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def close(self):
        self._closed = True
        try:
            # Wakes a run() blocked in accept() on another thread; close() alone may not.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # Not listening any more, or not on this platform.
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def join(path):
    """Ask the field server at `path` for a chip: (its pty path, the connection to keep)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError as exc:
        conn.close()
        raise OSError("no field server at %s (start one with icpurse field): %s" % (path, exc))
    conn.sendall(b"chip\n")
    line = conn.makefile("r").readline().strip()
    if not line:
        conn.close()
        raise OSError("the field server at %s gave no chip" % path)
    return line, conn
