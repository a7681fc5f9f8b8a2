"""The PN532 NFC controller: its host-link frames and the commands a wallet uses (NXP UM0701-02).

A normal information frame is
    00 | 00 FF | LEN | LCS | TFI | PD0 .. PDn | DCS | 00
with LEN the byte count of TFI and PD, LEN + LCS = 0 and TFI + PD + DCS = 0 (mod 256). TFI is
D4 from the host and D5 from the chip, whose answer's PD0 is the command code plus one. The
chip acknowledges each command with the ACK frame 00 00 FF 00 FF 00 before it answers; the
NACK frame 00 00 FF FF 00 00 is the host's request for the chip's last frame again (only the
host sends it, section 6.2.1.4); the frame 00 00 FF 01 FF 7F 81 00 (TFI 7F) is the chip's
syntax error: a command it does not know or whose parameters it rejects. More than 254 bytes of
TFI and PD travel in an extended frame,
    00 | 00 FF | FF FF | LENM LENL | LCS | TFI | PD0 .. PDn | DCS | 00
with LENM + LENL + LCS = 0; the chip takes up to 265 bytes of TFI and PD from its host.
A chip that receives a damaged frame ignores it, so the host sees no ACK: the driver then sends
the command again (section 6.2.1.3), as it does after a damaged answer (with NACK).

The driver does no I/O of its own: a transport (board glue in firmware/pn532_bus.py, or a
simulated chip) moves the bytes of I2C, SPI or HSU:
    transport.wakeup()               wake the chip from power-down
    transport.write(frame)           send one frame
    transport.wait_ready(ms) -> bool the chip has a frame for us within ms milliseconds
    transport.read(n) -> bytes       n bytes of the chip's next frame, from its first byte
Every failure raises one of the errors below, so a tap can tell what to do next.

Two roles (section 7 of the manual): as a **target** the chip emulates an ISO 14443-4 card
(SetParameters with the PICC bit, TgInitAsTarget, then TgGetData / TgSetData carry the wallet's
APDUs); as an **initiator** it is the reader (InListPassiveTarget, InDataExchange, InRelease).
"""

from purse.compat import const
from purse.errors import PurseError

_TFI_HOST = const(0xD4)
_TFI_CHIP = const(0xD5)
_TFI_ERROR = const(0x7F)
ACK = b"\x00\x00\xff\x00\xff\x00"
NACK = b"\x00\x00\xff\xff\x00\x00"
MAX_DATA = const(254)  # TFI and PD of a normal frame.
MAX_EXTENDED = const(265)  # TFI and PD of the longest frame the chip takes from its host.
# The longest frame on the wire, an extended one: 00 00 FF FF FF LENM LENL LCS, MAX_EXTENDED
# bytes of TFI and data, DCS, 00.
MAX_FRAME = const(275)
ACK_TIMEOUT_MS = const(100)  # The chip acknowledges within 15 ms; nfcpy allows 100 ms too.

GET_FIRMWARE_VERSION = const(0x02)
SET_PARAMETERS = const(0x12)
SAM_CONFIGURATION = const(0x14)
IN_DATA_EXCHANGE = const(0x40)
IN_LIST_PASSIVE_TARGET = const(0x4A)
IN_RELEASE = const(0x52)
TG_GET_DATA = const(0x86)
TG_INIT_AS_TARGET = const(0x8C)
TG_SET_DATA = const(0x8E)

# The commands that carry data over the air, each to be run once (PN532._send).
_EXCHANGES = (IN_DATA_EXCHANGE, TG_GET_DATA, TG_SET_DATA)

PN532_IC = const(0x32)  # GetFirmwareVersion's IC byte for a PN532.
# SetParameters flags (there is no GetParameters: the driver keeps what it set). The chip's
# reset value is fAutomaticRATS | fAutomaticATR_RES (0x14).
PARAM_AUTO_ATR_RES = const(0x04)  # As a DEP target, answer ATR_REQ itself.
PARAM_AUTO_RATS = const(0x10)  # As a reader, send RATS itself and return the ATS.
PARAM_PICC = const(0x20)  # fISO14443-4_PICC, the chip answers as a -4 card (ISO-DEP itself).
FLAGS_READER = const(0x14)  # PARAM_AUTO_RATS | PARAM_AUTO_ATR_RES, the reset default.
FLAGS_TARGET = const(0x34)  # ... and PARAM_PICC.
MODE_PICC = const(0x08)  # TgInitAsTarget's answer: activated as an ISO 14443-4 PICC.
SEL_RES_ISO14443_4 = const(0x20)  # SAK bit: the emulated card speaks ISO 14443-4.
TARGET_PICC_ONLY = const(0x04)  # TgInitAsTarget mode: PICC only.
BAUD_106_TYPE_A = const(0x00)

# The status byte of InDataExchange, TgGetData, TgSetData and InRelease: the error is its low
# six bits (bit 6 is "more information" chaining, bit 7 a NAD). The codes a wallet meets.
STATUS_TIMEOUT = const(0x01)
STATUS_RELEASED = const(0x29)
STATUS_TEXT = {
    0x01: "the other side did not answer in time",
    0x02: "CRC error on the RF link",
    0x03: "parity error on the RF link",
    0x0A: "the RF field was not switched on in time",
    0x0B: "RF protocol error",
    0x0E: "the chip's internal buffer overflowed",
    0x10: "invalid parameter",
    0x13: "ISO 14443-4 data format error",
    0x25: "invalid device state",
    0x27: "command not acceptable in the chip's current context",
    0x29: "the target was released by its initiator",
    0x2B: "the card previously activated has disappeared",
}


class PN532Error(PurseError):
    """The chip or its link failed; subclasses say how."""


class FrameError(PN532Error):
    """A frame was malformed or failed its checksums."""


class ErrorFrame(PN532Error):
    """The chip answered with its error frame (TFI 7F): it does not know the command or it
    rejects its parameters (UM0701-02, 6.2.1.5)."""


class Timeout(PN532Error):
    """The chip did not answer within the time allowed."""


class StatusError(PN532Error):
    """The chip reported an error status for an RF operation; `.code` is its low six bits."""

    def __init__(self, command, code):
        super().__init__(
            "%s: status %02X, %s" % (command, code, STATUS_TEXT.get(code, "chip error"))
        )
        self.code = code


def encode_frame(data, tfi=_TFI_HOST):
    """The frame carrying TFI and `data` (command code and parameters): a normal frame, or an
    extended one for more than 254 bytes of TFI and data (up to 265, what the chip takes)."""
    n = len(data) + 1
    if n > MAX_EXTENDED:
        raise FrameError("frame data of %d bytes is over the chip's %d" % (n, MAX_EXTENDED))
    if n > MAX_DATA:
        head = bytes((0, 0, 0xFF, 0xFF, 0xFF, n >> 8, n & 0xFF, (-(n >> 8) - n) & 0xFF))
    else:
        head = bytes((0, 0, 0xFF, n, (-n) & 0xFF))
    h = len(head)
    out = bytearray(h + n + 2)
    out[:h] = head
    out[h] = tfi
    out[h + 1 : h + n] = data
    total = tfi
    for b in data:
        total += b
    out[h + n] = (-total) & 0xFF
    return bytes(out)


def decode_frame(raw, tfi=_TFI_CHIP):
    """("ack" | "nack" | "data", payload after TFI) from bytes that start with one frame
    (leading zero bytes and trailing bytes are ignored)."""
    n = len(raw)
    i = 0
    while i < n and raw[i] == 0:
        i += 1
    if i == 0 or i + 2 >= n or raw[i] != 0xFF:
        raise FrameError("no frame start (00 FF)")
    length, lcs = raw[i + 1], raw[i + 2]
    if length == 0 and lcs == 0xFF:
        return "ack", b""
    if length == 0xFF and lcs == 0:
        return "nack", b""
    start = i + 3
    if length == 0xFF and lcs == 0xFF:
        if i + 5 >= n:
            raise FrameError("extended frame is truncated")
        length = (raw[i + 3] << 8) | raw[i + 4]
        if (raw[i + 3] + raw[i + 4] + raw[i + 5]) & 0xFF:
            raise FrameError("length checksum fails (extended frame)")
        start = i + 6
    elif (length + lcs) & 0xFF:
        raise FrameError("length checksum fails")
    body = raw[start : start + length]
    if length == 0 or len(body) != length or start + length >= n:
        raise FrameError("frame of %d bytes is truncated" % length)
    total = raw[start + length]
    for b in body:
        total += b
    if total & 0xFF:
        raise FrameError("data checksum fails")
    if body[0] == _TFI_ERROR:
        raise ErrorFrame("the chip answered with its syntax-error frame (it rejects the command)")
    if body[0] != tfi:
        raise FrameError("unexpected frame direction %02X" % body[0])
    return "data", bytes(body[1:])


def frame_bounds(stream):
    """(start, end) of the first whole frame in a byte stream, from its 00 FF start code, or
    None while none is complete: how a UART's bytes are cut into frames, on either side. A
    header whose length checksum fails, or an extended one longer than the chip's frames, is
    noise on the line: the search goes on after its start code, so that noise never holds
    back the frames behind it (a noise length of up to 65,535 bytes would, for as long)."""
    i = stream.find(b"\x00\xff")
    while i >= 0:
        if len(stream) < i + 4:
            return None
        length, lcs = stream[i + 2], stream[i + 3]
        end = None
        if (length == 0 and lcs == 0xFF) or (length == 0xFF and lcs == 0):
            end = i + 5  # ACK or NACK: 00 FF LEN LCS 00.
        elif length == 0xFF and lcs == 0xFF:
            if len(stream) < i + 7:
                return None
            n = (stream[i + 4] << 8) | stream[i + 5]
            if not (stream[i + 4] + stream[i + 5] + stream[i + 6]) & 0xFF and 0 < n <= (
                MAX_EXTENDED
            ):
                end = i + 7 + n + 2  # LENM LENL LCS, TFI and data, DCS, postamble.
        elif length and not (length + lcs) & 0xFF:
            end = i + 4 + length + 2  # TFI and data, DCS, postamble.
        if end is not None:
            return (i, end) if len(stream) >= end else None
        i = stream.find(b"\x00\xff", i + 1)
    return None


def frame_end(stream):
    """The end of the first whole frame in a byte stream (see frame_bounds), or None."""
    bounds = frame_bounds(stream)
    return None if bounds is None else bounds[1]


class PN532:
    """Commands over a transport; `retries` resends of a command the chip did not acknowledge
    and requests (NACK) of an answer that arrived damaged."""

    def __init__(self, transport, retries=2):
        self.transport = transport
        self.retries = retries
        # SetParameters' flags as this driver last set them; None until it sets them, since
        # the chip cannot be asked and a program before this one may have changed them.
        self.flags = None

    def _read(self, timeout_ms, size):
        if not self.transport.wait_ready(timeout_ms):
            raise Timeout("the PN532 did not answer within %d ms" % timeout_ms)
        return self.transport.read(size)

    def _send(self, command, frame):
        """Send the command until the chip acknowledges it. A chip ignores a frame that reached
        it damaged, so no ACK within ACK_TIMEOUT_MS means: send it again (UM0701-02, 6.2.1.3).
        A NACK or a damaged ACK is taken the same way.

        Except for the commands that carry data over the air (_EXCHANGES): the ACK may be what
        was lost, the chip then having taken the command and sent its data already, and a
        second one would run the exchange twice (a chained APDU's part stored twice, a GET
        RESPONSE answered with the part after the one the first got, a card's answer sent
        where no command waits). Without an ACK such a command is aborted (the host's ACK)
        and the caller told; after a damaged ACK, which only a chip that took the command
        sends, its answer is read as usual."""
        once = command in _EXCHANGES
        for attempt in range(self.retries + 1):
            self.transport.write(frame)
            last = attempt == self.retries
            try:
                kind, _ = decode_frame(self._read(ACK_TIMEOUT_MS, len(ACK)))
            except Timeout:
                if once:
                    self.transport.write(ACK)
                    raise Timeout(
                        "the PN532 did not acknowledge command %02X; not sent again, since it"
                        " may have reached the other side" % command
                    ) from None
                if last:
                    raise Timeout(
                        "the PN532 did not acknowledge command %02X in %d tries"
                        % (command, self.retries + 1)
                    ) from None
                continue
            except FrameError:
                if once:
                    return
                if last:
                    raise
                continue
            if kind == "ack" or once:
                return
            if last:
                raise FrameError("the PN532 did not acknowledge command %02X" % command)

    def call(self, command, params=b"", timeout_ms=1000, response_max=MAX_EXTENDED):
        """Send a command, take the ACK and return the answer's parameters (after the
        response code). A damaged answer is asked for again with NACK."""
        self._send(command, encode_frame(bytes((command,)) + bytes(params)))
        for attempt in range(self.retries + 1):
            try:
                kind, body = decode_frame(self._read(timeout_ms, response_max + 12))
            except Timeout:
                # The chip is still at the command (a target waiting for a reader, a reader for
                # a card). An ACK from the host aborts it (UM0701-02, 6.2.1.3), so the chip is
                # idle for the next command, and a reader never meets a target nobody serves.
                self.transport.write(ACK)
                raise
            except FrameError:
                if attempt == self.retries:
                    raise
                self.transport.write(NACK)
                continue
            if kind != "data" or not body or body[0] != command + 1:
                raise FrameError("the PN532 answered command %02X with something else" % command)
            return body[1:]
        raise FrameError("unreachable")

    # --- set-up ---------------------------------------------------------------------------------

    def firmware_version(self):
        """(IC, version, revision, support); refuses a chip that is not a PN532."""
        answer = self.call(GET_FIRMWARE_VERSION, timeout_ms=500)
        if len(answer) != 4 or answer[0] != PN532_IC:
            raise PN532Error("not a PN532: firmware version %s" % bytes(answer).hex())
        return answer[0], answer[1], answer[2], answer[3]

    def begin(self):
        """Wake the chip, check it is a PN532 and put it in normal mode (SAMConfiguration:
        no SAM, 1 s virtual-card timeout, IRQ used). Returns the firmware version."""
        self.transport.wakeup()
        version = self.firmware_version()
        self.call(SAM_CONFIGURATION, b"\x01\x14\x01")
        return version

    def set_parameters(self, flags):
        self.call(SET_PARAMETERS, bytes((flags,)))
        self.flags = flags

    def _use_flags(self, flags):
        # Only a change is sent: each role needs its own flags (a card PICC, a reader the
        # automatic RATS that brings the ATS), and a board plays both roles in turn.
        if self.flags != flags:
            self.set_parameters(flags)

    # --- target: the paying card ------------------------------------------------------------

    def init_as_target(self, uid3, timeout_ms=30000):
        """Wait as an ISO 14443-4 card (type A, NFCID1 = 08 || uid3, a random UID) until a
        reader activates it. Returns the reader's RATS (the chip has answered it with its
        ATS; the APDUs follow through get_data)."""
        self._use_flags(FLAGS_TARGET)
        mifare = b"\x04\x00" + bytes(uid3[:3]) + bytes((SEL_RES_ISO14443_4,))
        params = bytes((TARGET_PICC_ONLY,)) + mifare + bytes(18) + bytes(10) + b"\x00\x00"
        answer = self.call(TG_INIT_AS_TARGET, params, timeout_ms)
        if not answer or not answer[0] & MODE_PICC:
            raise PN532Error(
                "the reader did not activate the card as ISO 14443-4 (mode %s)"
                % bytes(answer[:1]).hex()
            )
        return bytes(answer[1:])

    def _status(self, command, answer):
        if not answer:
            raise FrameError("%s answer without a status" % command)
        code = answer[0] & 0x3F
        if code:
            raise StatusError(command, code)
        return bytes(answer[1:])

    def get_data(self, timeout_ms=5000):
        """The next APDU the reader sent (TgGetData)."""
        return self._status("TgGetData", self.call(TG_GET_DATA, b"", timeout_ms))

    def set_data(self, data, timeout_ms=1000):
        """Send the response APDU to the reader (TgSetData)."""
        self._status("TgSetData", self.call(TG_SET_DATA, data, timeout_ms))

    # --- initiator: the reading card ----------------------------------------------------------

    def list_target(self, timeout_ms=1000):
        """Activate one ISO 14443-A target: (target number, NFCID1, ATS), or None. The chip
        sends RATS itself (fAutomaticRATS) and exchanges ISO-DEP blocks for InDataExchange only
        with a card that answered it: a target without an ATS is refused."""
        self._use_flags(FLAGS_READER)
        answer = self.call(IN_LIST_PASSIVE_TARGET, bytes((1, BAUD_106_TYPE_A)), timeout_ms)
        if not answer or answer[0] == 0:
            return None
        if len(answer) < 6:
            raise FrameError("InListPassiveTarget answer of %d bytes" % len(answer))
        uid_len = answer[5]
        uid = bytes(answer[6 : 6 + uid_len])
        ats = bytes(answer[6 + uid_len :])
        if len(uid) != uid_len or answer[4] & SEL_RES_ISO14443_4 == 0:
            raise PN532Error("the target is not an ISO 14443-4 card")
        if not ats or ats[0] != len(ats):
            raise PN532Error(
                "the target sent no valid ATS (%s): ISO-DEP is not active" % ats.hex()
            )
        return answer[1], uid, ats

    def exchange(self, target, data, timeout_ms=1000):
        """One APDU to the target and its response (InDataExchange)."""
        return self._status(
            "InDataExchange", self.call(IN_DATA_EXCHANGE, bytes((target,)) + data, timeout_ms)
        )

    def release(self, target):
        self._status("InRelease", self.call(IN_RELEASE, bytes((target,))))
