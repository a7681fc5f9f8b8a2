"""The host side of the serial link to a card (a board's USB port, an emulated card's pty, or
`socket://host:port`), through pyserial.

Each APDU goes out in one COBS frame with a sequence number and comes back in one response
frame with the same number. A lost, corrupted or unanswered frame is sent again with the same
number, and the card answers a repeat from its last answer without running the command twice.
Each link begins its session with a ping, at which the card forgets that answer, since the
session numbers its commands from 1 again. When the card announces that it started again (a
reset, a power cut), the link selects the applet again before it resends. Noise on the line is
skipped by the deframer.
"""

import re
import time

import serial

from purse import frame, proto, reader
from purse.client import CardReset
from purse.errors import FrameError

# The first bytes heard while waiting for an answer are kept (the cause comes first), and the
# first characters of their text are shown in the error.
HEARD_KEPT = 4096
HEARD_SHOWN = 800
# A run of printable ASCII (with tabs and line ends) long enough not to be part of a frame.
_TEXT = re.compile(rb"[\t\n\r\x20-\x7e]{12,}")


class LinkError(Exception):
    """The card cannot be reached: no such port, a busy port, or no answer."""


class SerialLink:
    def __init__(self, port, timeout=3.0, retries=4):
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.resets = 0
        self.resends = 0
        self._seq = 0
        # Whether this session has begun with a ping (see _transact).
        self._greeted = False
        self._deframer = frame.Deframer()
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
        """Decoded frames as they arrive, until the deadline; bad frames are skipped."""
        while time.monotonic() < deadline:
            try:
                data = self.serial.read(self.serial.in_waiting or 1)
            except serial.SerialException as exc:
                raise LinkError("the link to %s broke: %s" % (self.port, exc)) from None
            if len(self._heard) < HEARD_KEPT:
                self._heard += data[: HEARD_KEPT - len(self._heard)]
            for raw in self._deframer.feed(data):
                try:
                    yield frame.decode_frame(raw)
                except FrameError:
                    continue

    def _transact(self, kind, payload, want):
        if kind != proto.FRAME_PING and not self._greeted:
            # This session numbers its commands from 1, as the last one did: without a ping
            # first, a card whose last answer had the number of this first command would take
            # the command for a repeat and send that old answer (firmware/link.py).
            self.ping()
        seq = self._next_seq()
        self._heard = bytearray()
        for attempt in range(self.retries + 1):
            if attempt:
                self.resends += 1
            self._send(kind, seq, payload)
            for got, got_seq, body in self._frames(time.monotonic() + self.timeout):
                if got == proto.FRAME_PONG and got_seq == 0 and body == proto.BOOT_NOTICE:
                    self.resets += 1
                    if kind != proto.FRAME_COMMAND:
                        break  # A PING is simply sent again.
                    # The card lost the command under way (and any chain it belonged to):
                    # select the applet again and let the client resend the whole command.
                    self._reselect()
                    raise CardReset("the card on %s restarted" % self.port)
                if got == want and got_seq == seq:
                    return body
                if got == proto.FRAME_NAK:
                    if got_seq == seq and body == proto.NAK_UNEXPECTED:
                        # Only a board frame meets this (commands and pings are always
                        # taken), and sending it again would be refused again.
                        raise LinkError(
                            "the card on %s takes no board commands: it has no NFC reader (an"
                            ' emulated card needs icpurse emulate --nfc; a board, a "pn532"'
                            " entry in its config.json)" % self.port
                        )
                    break
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
        select = reader.build_command(proto.CLA_ISO, proto.INS_SELECT, 4, 0, proto.AID)
        self._transact(proto.FRAME_COMMAND, select, proto.FRAME_RESPONSE)

    def ping(self, payload=b""):
        """Wait until the card answers a PING (after a reset: what it says at boot is skipped)."""
        answer = self._transact(proto.FRAME_PING, payload, proto.FRAME_PONG)
        self._greeted = True
        return answer

    def board(self, payload, timeout=None):
        """A FRAME_BOARD command to the board glue (a tap's arm, listen or receive); its answer.
        `timeout` covers work the board does before answering (a whole tap)."""
        saved = self.timeout
        if timeout is not None:
            self.timeout = timeout
        try:
            return self._transact(proto.FRAME_BOARD, bytes(payload), proto.FRAME_BOARD)
        finally:
            self.timeout = saved

    def exchange(self, command):
        """One command APDU in, its response APDU out (the `exchange` of purse.client)."""
        return self._transact(proto.FRAME_COMMAND, bytes(command), proto.FRAME_RESPONSE)
