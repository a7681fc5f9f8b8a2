"""The host side of the serial link to a card (a board's USB port, an emulated card's pty, or
`socket://host:port`), through pyserial.

Each APDU goes out in one COBS frame with a sequence number and comes back in one response
frame with the same number. Each link begins its session with a ping, at which the card forgets
its last answer, since the session numbers its commands from 1 again; the ping's answer names
the card's board profile, and each command's answer is then awaited as long as
icpurse.timeouts gives for that board and the command's class.

A command is never sent again because the card is slow. When its answer does not come in time
(or a NAK comes, which may be about an earlier frame), the link sends a probe — a small ping
the card answers once it has finished everything before it, without ending the session — and
waits again: if the answer comes, the card was only slow; if the probe's pong comes without
it, the command or its answer was lost, the card is idle, and the command goes again with the
same number, which the card answers from its last answer if it ran it already. A card whose
firmware names no board (older than probes) keeps the old rule: the command goes again when
its wait runs out. When the card announces that it started again (a reset, a power cut), the
link selects the applet again before it resends. Noise on the line is skipped by the deframer.
"""

import re
import time
from collections import deque

import serial

from icpurse import timeouts
from purse import frame, proto, reader
from purse.client import CardReset
from purse.errors import FrameError

# The first bytes heard while waiting for an answer are kept (the cause comes first), and the
# first characters of their text are shown in the error.
HEARD_KEPT = 4096
HEARD_SHOWN = 800
# A run of printable ASCII (with tabs and line ends) long enough not to be part of a frame.
_TEXT = re.compile(rb"[\t\n\r\x20-\x7e]{12,}")


# The pong payload that names a card's board profile (after it, the name), and the ping payload
# that begins a probe (a counter follows): docs/PROTOCOL.md section 9. The card has them as
# literals (firmware/link.py), since a name in purse.proto costs every card heap.
BOARD_NOTICE = b"board "
LINK_PROBE = b"done?"
# What a wait for an answer ends with, besides the answer itself.
_SILENT, _IDLE, _NAK, _BOOT = "silent", "idle", "nak", "boot"


class LinkError(Exception):
    """The card cannot be reached: no such port, a busy port, no answer, or a card that names
    its board with something that is no board name."""


class SerialLink:
    def __init__(self, port, timeout=None, retries=4):
        """`timeout`: seconds to wait for every answer; None (the default) waits as long as
        icpurse.timeouts gives for the card's board and each command's class. `retries`: how
        many waits in a row without a word from the card a command is given, and how many
        times it may be sent again, before the link gives up."""
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.resets = 0
        self.resends = 0
        self.probes = 0
        # The board profile the card named (None until it answers a ping; "" when its firmware
        # names none), and whether the card answers probes (firmware that names its board does).
        self.board_name = None
        self._probing = False
        self._seq = 0
        # Whether this session has begun with a ping (see _transact).
        self._greeted = False
        self._deframer = frame.Deframer()
        # Frames decoded but not yet looked at: a wait that ends at one leaves the rest here.
        self._queue = deque()
        # What arrives while a command waits for its answer, for the error when none comes: a
        # board whose firmware crashed prints a traceback and its REPL prompt, not frames.
        self._heard = bytearray()
        try:
            self.serial = serial.serial_for_url(port, baudrate=115200, timeout=0.05)
            if hasattr(self.serial, "exclusive") and not port.startswith("socket://"):
                self.serial.exclusive = True
        except (serial.SerialException, ValueError) as exc:
            text = str(exc)
            if "lock" in text.lower() or "busy" in text.lower():
                raise LinkError("%s is busy: another program has it open" % port) from None
            raise LinkError("cannot open %s: %s" % (port, text)) from None

    def close(self):
        self.serial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _next_seq(self):
        self._seq = self._seq % 255 + 1
        return self._seq

    def _send(self, kind, seq, payload):
        self.serial.write(frame.encode_frame(kind, seq, payload))
        self.serial.flush()

    def _frames(self, deadline):
        """Decoded frames as they arrive, until the deadline; bad frames are skipped. Frames
        read but not taken stay queued for the next call."""
        while True:
            while self._queue:
                yield self._queue.popleft()
            if time.monotonic() >= deadline:
                return
            try:
                data = self.serial.read(self.serial.in_waiting or 1)
            except serial.SerialException as exc:
                raise LinkError("the link to %s broke: %s" % (self.port, exc)) from None
            if len(self._heard) < HEARD_KEPT:
                self._heard += data[: HEARD_KEPT - len(self._heard)]
            for raw in self._deframer.feed(data):
                try:
                    self._queue.append(frame.decode_frame(raw))
                except FrameError:
                    continue

    def wait_for(self, cls):
        """Seconds to wait for an answer to a command of class `cls` (icpurse.timeouts)."""
        if self.timeout is not None:
            return self.timeout
        return timeouts.for_board(self.board_name)[cls]

    def _learn(self, payload):
        """Take the board profile a card named (the payload of a BOARD_NOTICE pong, or of the
        answer to a plain ping); refuse anything that is no board name."""
        if not payload:
            # Firmware older than board names: it forgets its last answer at any ping, so it
            # must not be probed.
            self.board_name, self._probing = "", False
            return
        if payload[: len(BOARD_NOTICE)] != BOARD_NOTICE:
            raise LinkError(
                "the card on %s answered a ping with %r, not with its board's name"
                % (self.port, bytes(payload[:40]))
            )
        try:
            name = timeouts.parse_name(payload[len(BOARD_NOTICE) :])
        except timeouts.BadBoardName as exc:
            raise LinkError("the card on %s names its board with %s" % (self.port, exc)) from None
        self.board_name, self._probing = name, True

    def _await(self, seq, want, probe, deadline):
        """(what, answer) for the first thing that matters before `deadline`: the answer (what
        None), the pong of `probe` (_IDLE: the card finished all that came before it), a NAK,
        the card's boot notice, or nothing (_SILENT)."""
        for got, got_seq, body in self._frames(deadline):
            if got == proto.FRAME_PONG and got_seq == 0:
                if body == proto.BOOT_NOTICE:
                    self.resets += 1
                    return _BOOT, None
                if body[: len(BOARD_NOTICE)] == BOARD_NOTICE:
                    self._learn(body)  # What the card says right after its boot notice.
                    continue
            if got == want and got_seq == seq:
                return None, body
            if probe is not None and got == proto.FRAME_PONG and got_seq == seq:
                if body == probe:
                    return _IDLE, None
                continue  # The pong of an earlier probe: the card may be busy again.
            if got == proto.FRAME_NAK:
                if got_seq == seq and body == proto.NAK_UNEXPECTED:
                    # Only a board frame meets this (commands and pings are always taken),
                    # and sending it again would be refused again.
                    raise LinkError(
                        "the card on %s takes no board commands: it has no NFC reader (an"
                        ' emulated card needs icpurse emulate --nfc; a board, a "pn532"'
                        " entry in its config.json)" % self.port
                    )
                return _NAK, None
        return _SILENT, None

    def _transact(self, kind, payload, want, cls, wait=None):
        """Send one frame and return its answer's payload; `wait` seconds for each wait, or
        as long as the card's board needs for a command of class `cls`."""
        if kind != proto.FRAME_PING and not self._greeted:
            # This session numbers its commands from 1, as the last one did: without a ping
            # first, a card whose last answer had the number of this first command would take
            # the command for a repeat and send that old answer (firmware/link.py). The ping's
            # answer also names the board, which the wait below depends on.
            self.ping()
        if wait is None:
            wait = self.wait_for(cls)
        seq = self._next_seq()
        self._heard = bytearray()
        # A ping is sent again as it is (it changes nothing the card keeps but its last
        # answer); anything else is probed, on a card that answers probes.
        probing = kind != proto.FRAME_PING and self._probing
        self._send(kind, seq, payload)
        deadline = time.monotonic() + wait
        sent = 1
        silences = 0
        probe = None
        while True:
            what, body = self._await(seq, want, probe, deadline)
            if what is None:
                return body
            if what is _NAK and probe is not None:
                # An unreadable frame, perhaps an earlier one: the probe under way will tell
                # (if the NAK was for the probe itself, the wait runs out and another goes).
                continue
            if what is _SILENT:
                silences += 1
                if silences > self.retries:
                    break
            elif what is _IDLE:
                silences = 0  # The card is there: only waits in a row without a word count.
            if what is _BOOT and kind == proto.FRAME_COMMAND:
                # The card lost the command under way (and any chain it belonged to): select
                # the applet again and let the client resend the whole command.
                self._reselect()
                raise CardReset("the card on %s restarted" % self.port)
            # After the pong of a probe (_IDLE) the card has finished everything sent before
            # it and no answer came: the command, or its answer, was lost, and sent again with
            # its number it runs once at most (the card answers a repeat from its last
            # answer). A ping, or a board frame the card's restart lost, is simply sent again.
            if what in (_IDLE, _BOOT) or not probing:
                if sent > self.retries:
                    break
                sent += 1
                self.resends += 1
                self._send(kind, seq, payload)
                probe = None
            else:
                # No answer in time, or a NAK: ask the card whether it has finished, instead of
                # sending the command again to a card that may still be running it.
                self.probes += 1
                probe = LINK_PROBE + b"%d" % self.probes
                self._send(proto.FRAME_PING, seq, probe)
            deadline = time.monotonic() + wait
        raise LinkError("the card on %s does not answer%s" % (self.port, self._printed()))

    def _printed(self):
        """The text among the bytes heard while waiting (a traceback, a REPL prompt), for the
        error message; frames are binary, so only longer runs of printable text are kept."""
        runs = _TEXT.findall(bytes(self._heard))
        if not runs:
            return ""
        text = "\n".join(run.decode().strip() for run in runs)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        repl = ">>>" in text or "raw REPL" in text
        if len(text) > HEARD_SHOWN:
            text = text[:HEARD_SHOWN] + "\n[...]"
        if repl:
            # The board runs MicroPython but not the wallet: never flashed, or the wallet
            # crashed at boot (the traceback above then says why).
            text += (
                "\n(that is MicroPython's prompt, not the wallet: `icpurse flash --port %s` puts"
                " the wallet on the board)" % self.port
            )
        return "; it printed instead:\n%s" % text

    def _reselect(self):
        select = reader.build_command(
            proto.CLA_ISO, proto.INS_SELECT, proto.SELECT_BY_NAME, proto.SELECT_FCI, proto.AID
        )
        self._transact(proto.FRAME_COMMAND, select, proto.FRAME_RESPONSE, timeouts.FAST)

    def ping(self, payload=b""):
        """Wait until the card answers a PING (after a reset: what it says at boot is skipped).
        A plain ping's answer names the card's board profile, which sets the timeouts."""
        answer = self._transact(proto.FRAME_PING, payload, proto.FRAME_PONG, timeouts.FAST)
        if not payload:
            self._learn(answer)
        self._greeted = True
        return answer

    def board(self, payload, timeout=None):
        """A FRAME_BOARD command to the board glue (a tap's arm, listen or receive); its answer.
        `timeout` covers work the board does before answering (a whole tap)."""
        return self._transact(
            proto.FRAME_BOARD, bytes(payload), proto.FRAME_BOARD, timeouts.FAST, timeout
        )

    def exchange(self, command):
        """One command APDU in, its response APDU out (the `exchange` of purse.client)."""
        command = bytes(command)
        cls = timeouts.command_class(command)
        return self._transact(proto.FRAME_COMMAND, command, proto.FRAME_RESPONSE, cls)
