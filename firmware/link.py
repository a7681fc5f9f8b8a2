"""The card side of the serial link: COBS frames in, one response frame out per command.

Strict request/response (docs/DESIGN.md section 8): each FRAME_COMMAND carries one APDU and gets
one FRAME_RESPONSE with the same sequence number. A command whose sequence number and frame type
equal the last one answered is a retransmission (the host lost the answer): the card sends the same
answer again without running the command twice. A ping ends that: every host session begins with
one and numbers its commands from 1 again, so a session's first command is never taken for a repeat
of the last session's. A probe (a ping whose payload begins "done?") is the one ping that does
not end the session: the card answers it once it has finished everything before it, so a host that
heard nothing can tell a card still at work (the answer comes first) from a lost frame (only the
probe's pong comes), and resends only then. An unreadable frame gets a NAK. Bytes between frames
(reset noise, a host's first delimiter) are skipped by the deframer.

At boot, and in answer to every plain ping, the card names its board profile: a pong of "board "
and the name, at most 16 bytes (the host picks its timeouts from it: docs/HARDWARE.md). Those
payloads are literals here rather than names in purse.proto, whose every name costs heap
(icpurse.seriallink has them as names).
"""

import gc

from purse import frame, proto
from purse.errors import FrameError

# CPython has no small heap to keep in order, and its collector costs more per call.
_COLLECT = hasattr(gc, "mem_free")

# The escape back to the REPL (proto.REPL_ESCAPE) is honoured only before personalisation:
# after LOCK the link never leaves the applet (docs/DESIGN.md section 4).


class CardLink:
    def __init__(self, read, write, applet, board=None, profile=None, collect=True):
        """`read(n)` returns up to n bytes (blocking; b"" at end of input), `write(b)` sends;
        `board(payload) -> answer` handles FRAME_BOARD (a board with an NFC reader); `profile`
        is the name of the board profile (config.json's "board"); `collect`: a collection
        before each command (see serve), which a board with a large heap need not spend."""
        self._collect = collect and _COLLECT
        self._read = read
        self._write = write
        self.applet = applet
        self.board = board
        self._named = b"board " + str(profile or "unnamed").encode()[:16]
        self._deframer = frame.Deframer()
        # The last answer and what it answered: frame type << 8 | sequence number (a small int,
        # which allocates nothing on the heap).
        self._last_key = None
        self._last_answer = None

    def announce(self):
        """Tell the host the card (re)started, then name its board profile: two pongs with
        sequence number 0 (a host that knows only the first skips the second)."""
        self._write(frame.encode_frame(proto.FRAME_PONG, 0, proto.BOOT_NOTICE))
        self._write(frame.encode_frame(proto.FRAME_PONG, 0, self._named))

    def serve(self):
        """Answer frames until the input ends or the REPL escape is accepted."""
        while True:
            data = self._read(64)
            if not data:
                return "eof"
            for raw in self._deframer.feed(data):
                if self.handle(raw) == "repl":
                    return "repl"

    def handle(self, raw):
        try:
            kind, seq, payload = frame.decode_frame(raw)
        except FrameError:
            # The sequence number of an unreadable frame is unknown: NAK with 0.
            self._write(frame.encode_frame(proto.FRAME_NAK, 0, b"bad frame"))
            return None
        if kind == proto.FRAME_PING:
            if payload[:5] == b"done?":
                # Everything before the probe is answered: say so, and keep the last answer.
                self._write(frame.encode_frame(proto.FRAME_PONG, seq, payload))
                return None
            self._forget()  # A host's session begins: see the module's docstring.
            if payload == proto.MEMORY_QUERY:
                # Diagnostics for the emulator's benchmark: the heap in use after a collect.
                usage = b"n/a"
                if hasattr(gc, "mem_alloc"):
                    gc.collect()
                    usage = ("%d %d" % (gc.mem_alloc(), gc.mem_free())).encode()
                self._write(frame.encode_frame(proto.FRAME_PONG, seq, usage))
                return None
            if (
                payload == proto.REPL_ESCAPE
                and self.applet.card.state.lifecycle != proto.STATE_READY
            ):
                self._write(frame.encode_frame(proto.FRAME_PONG, seq, payload))
                return "repl"
            self._write(frame.encode_frame(proto.FRAME_PONG, seq, self._named))
            return None
        key = kind << 8 | seq
        if kind == proto.FRAME_BOARD and self.board is not None:
            if key == self._last_key and self._last_answer is not None:
                self._write(self._last_answer)  # The host resent while the board was busy.
                return None
            self._forget()
            answer = frame.encode_frame(proto.FRAME_BOARD, seq, self.board(payload))
            self._last_key = key
            self._last_answer = answer
            self._write(answer)
            return None
        if kind != proto.FRAME_COMMAND:
            self._write(frame.encode_frame(proto.FRAME_NAK, seq, proto.NAK_UNEXPECTED))
            return None
        if key == self._last_key and self._last_answer is not None:
            self._write(self._last_answer)
            return None
        # Forget the old answer first: if the command cuts the power, no stale answer remains.
        self._forget()
        # A collection before each command lets what the command keeps (the next state, a
        # queued record) fill the heap from the bottom instead of landing between the last
        # command's garbage, which would leave a small heap too fragmented for a transfer. A
        # profile with a large heap says "collect_early": false, and saves the 2-3 M
        # instructions a collection costs on the Unix port.
        if self._collect:
            gc.collect()
        answer = frame.encode_frame(proto.FRAME_RESPONSE, seq, self.applet.process(payload))
        self._last_key = key
        self._last_answer = answer
        self._write(answer)
        return None

    def _forget(self):
        self._last_key = None
        self._last_answer = None
