"""The emulated board: firmware/main.py in a child process, its USB link on a pseudo-terminal.

The child's stdin/stdout are pipes; this relay copies bytes between them and the pty's master
side, frame by frame, which is where faults are injected: a frame may be dropped, duplicated,
corrupted or delayed, in either direction. When the child exits with proto.EXIT_POWER_CUT (a
power cut at a store operation) the relay starts it again, as a board comes back when power
returns, and the host sees only a silence it recovers from; so it does when the card restarts
itself after a fault (proto.EXIT_RESTART, where a board soft-resets). Optionally the link also
listens on a TCP port (pyserial's `socket://127.0.0.1:PORT`).

A card can be made as slow as a board (`slow`: seconds by instruction): the relay holds the
card's answer to such a command that long, and meanwhile relays nothing in either direction,
as a board busy with the command reads nothing; what the host sends meanwhile reaches the card
afterwards, in order.
"""

import os
import random
import select
import socket
import subprocess
import sys
import time
import tty

from purse import frame, proto
from purse.errors import FrameError


class Faults:
    """What to do to frames: each a probability in [0, 1], drawn from a seeded generator."""

    def __init__(self, drop=0.0, duplicate=0.0, corrupt=0.0, delay=0.0, delay_s=0.2, seed=0):
        self.drop = drop
        self.duplicate = duplicate
        self.corrupt = corrupt
        self.delay = delay
        self.delay_s = delay_s
        self.random = random.Random(seed)
        self.counts = {"drop": 0, "duplicate": 0, "corrupt": 0, "delay": 0}

    def apply(self, encoded):
        """The bytes to send for one frame (delimiters included), after the faults."""
        r = self.random
        if r.random() < self.drop:
            self.counts["drop"] += 1
            return b""
        if r.random() < self.corrupt:
            self.counts["corrupt"] += 1
            data = bytearray(encoded)
            i = r.randrange(1, max(2, len(data) - 1))
            # Never create a zero byte: a corrupt frame, not two half frames.
            data[i] = (data[i] ^ (1 << r.randrange(8))) or 0x5A
            encoded = bytes(data)
        if r.random() < self.delay:
            self.counts["delay"] += 1
            time.sleep(self.delay_s)
        if r.random() < self.duplicate:
            self.counts["duplicate"] += 1
            encoded = encoded + encoded
        return encoded


class Slowness:
    """Which answers to hold, and how long: {INS: seconds}. A command sent again with the same
    number (a repeat, which the card answers from its last answer) is not held again."""

    def __init__(self, seconds=None):
        self.seconds = dict(seconds or {})
        self._waiting = {}
        self._last = None

    def to_card(self, raw):
        if not self.seconds:
            return
        try:
            kind, seq, payload = frame.decode_frame(raw)
        except FrameError:
            return
        if kind != proto.FRAME_COMMAND or len(payload) < 2 or payload[0] & proto.CLA_CHAIN:
            return
        if (seq, payload) != self._last and payload[1] in self.seconds:
            self._waiting[seq] = self.seconds[payload[1]]
        self._last = (seq, payload)

    def hold(self, raw):
        """Seconds to hold this frame to the host (0 for all but a slow command's answer)."""
        if not self._waiting:
            return 0
        try:
            kind, seq, _ = frame.decode_frame(raw)
        except FrameError:
            return 0
        return self._waiting.pop(seq, 0) if kind == proto.FRAME_RESPONSE else 0


class Relay:
    def __init__(self, command, cwd, faults=None, tcp_port=None, log=None, slow=None):
        self.command = command
        self.cwd = cwd
        self.faults = faults or Faults()
        self.slow = Slowness(slow)
        self.log = log or (lambda text: None)
        self.master, self.slave = os.openpty()
        # Raw mode from the start: no echo and no newline translation before a host opens it.
        tty.setraw(self.slave)
        self.pty_path = os.ttyname(self.slave)
        self.server = None
        self.client = None
        if tcp_port is not None:
            try:
                self.server = socket.create_server(("127.0.0.1", tcp_port))
            except OSError:
                os.close(self.master)
                os.close(self.slave)
                raise
        self.child = None
        self.power_cuts = 0
        self.restarts = 0

    def start_child(self):
        self.child = subprocess.Popen(
            self.command, cwd=self.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=sys.stderr, bufsize=0,
        )  # fmt: skip

    def _host_write(self, data):
        if self.client is not None:
            try:
                self.client.sendall(data)
                return
            except OSError:
                self.client = None
        os.write(self.master, data)

    def run(self):
        """Relay until the child exits for good (any status but a power cut)."""
        self.start_child()
        to_card = frame.Deframer()
        to_host = frame.Deframer()
        while True:
            sources = [self.master, self.child.stdout]
            if self.server is not None:
                sources.append(self.server)
            if self.client is not None:
                sources.append(self.client)
            ready, _, _ = select.select(sources, [], [], 0.5)
            for source in ready:
                if source is self.server:
                    self.client, _ = self.server.accept()
                    continue
                data = self._read(source)
                if source is self.child.stdout:
                    if not data:
                        # The card's output ended: it lost power or stopped.
                        code = self.child.wait()
                        if code == proto.EXIT_POWER_CUT:
                            self.power_cuts += 1
                            self.log("power cut at a store operation; the card starts again")
                        elif code == proto.EXIT_RESTART:
                            self.restarts += 1
                            self.log("the card restarted itself after a fault")
                        else:
                            return code
                        self._restart_after_fault()
                        to_host = frame.Deframer()
                        break
                    for raw in to_host.feed(data):
                        held = self.slow.hold(raw)
                        if held:
                            time.sleep(held)  # The card is still at work: nothing moves.
                        self._host_write(self.faults.apply(b"\x00" + raw + b"\x00"))
                elif data:
                    for raw in to_card.feed(data):
                        self.slow.to_card(raw)
                        self._card_write(self.faults.apply(b"\x00" + raw + b"\x00"))

    def _read(self, source):
        try:
            if isinstance(source, socket.socket):
                data = source.recv(4096)
                if not data:
                    self.client = None
                return data
            return os.read(source.fileno() if hasattr(source, "fileno") else source, 4096)
        except OSError:
            return b""

    def _card_write(self, data):
        if not data:
            return
        try:
            self.child.stdin.write(data)
        except (BrokenPipeError, OSError):
            pass  # The card is losing power; the host will retry.

    def _restart_after_fault(self):
        """Power returns: the same card, without the injected fault it has just had."""
        config_path = os.path.join(self.cwd, "config.json")
        import json

        with open(config_path) as f:
            config = json.load(f)
        config.pop("cut_at", None)
        config.pop("memory_at", None)
        with open(config_path, "w") as f:
            json.dump(config, f)
        self.start_child()

    def close(self):
        if self.child is not None and self.child.poll() is None:
            self.child.kill()
            self.child.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.server is not None:
            self.server.close()
