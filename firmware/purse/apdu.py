"""ISO/IEC 7816-4 short APDUs with command chaining and 61XX + GET RESPONSE response chaining.

docs/DESIGN.md section 6 caps every command APDU at 250 bytes (header, Lc and Le included) and
every response at 250 bytes (status word included), so that one APDU always fits one NFC frame.
Longer commands are split with the chaining bit of CLA (0x10); longer responses are handed out in
parts that end in 61XX until the host has fetched them all with GET RESPONSE.

The four cases of a short command APDU (ISO/IEC 7816-3 section 12.1):
    case 1: CLA INS P1 P2
    case 2: CLA INS P1 P2 Le
    case 3: CLA INS P1 P2 Lc data
    case 4: CLA INS P1 P2 Lc data Le
Lc is 1..255; Le 0x00 means 256. A zero byte where Lc would be starts an extended-length APDU,
which this protocol does not use and refuses. Every failure raises APDUError.

This module is the card's side (parse commands, collect chains, hand out responses); the
reader's side is purse.reader.
"""

from purse import proto
from purse.compat import const
from purse.errors import APDUError

HEADER = const(4)
# Largest data field of one response part: 250 - the status word.
MAX_RESPONSE_DATA = proto.MAX_RESPONSE_APDU - 2


class Command:
    """A parsed command APDU. `data` is a memoryview (possibly empty); `le` is None or 1..256."""

    def __init__(self, cla, ins, p1, p2, data=b"", le=None):
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
        self.le = le

    @property
    def chained(self):
        return bool(self.cla & proto.CLA_CHAIN)


def parse_command(apdu):
    """Decode one short command APDU (any of the four cases) into a Command."""
    n = len(apdu)
    if n < HEADER:
        raise APDUError("command APDU of %d bytes is shorter than its header" % n)
    if n > proto.MAX_COMMAND_APDU:
        raise APDUError("command APDU of %d bytes exceeds %d" % (n, proto.MAX_COMMAND_APDU))
    mv = memoryview(apdu)
    cla, ins, p1, p2 = mv[0], mv[1], mv[2], mv[3]
    if cla == 0xFF:
        raise APDUError("CLA 0xFF is reserved")
    if n == HEADER:
        return Command(cla, ins, p1, p2, mv[4:4])
    if n == HEADER + 1:
        return Command(cla, ins, p1, p2, mv[4:4], mv[4] or 256)
    lc = mv[4]
    if lc == 0:
        raise APDUError("extended-length APDUs are not supported")
    if n == HEADER + 1 + lc:
        return Command(cla, ins, p1, p2, mv[5:n])
    if n == HEADER + 2 + lc:
        return Command(cla, ins, p1, p2, mv[5 : n - 1], mv[n - 1] or 256)
    raise APDUError("Lc %d does not match a command APDU of %d bytes" % (lc, n))


class ChainAssembler:
    """Card side of command chaining: collects the parts of a chained command.

    feed() returns None while more parts are expected (the card answers each with 9000) and the
    whole Command once its last part arrives. A part for another instruction, or a chain longer
    than `limit`, raises APDUError and drops the chain.
    """

    def __init__(self, limit=proto.MAX_CHAINED_COMMAND):
        self.limit = limit
        self._buf = bytearray(limit)
        self._len = 0
        self._head = None

    @property
    def in_progress(self):
        return self._head is not None

    def reset(self):
        self._len = 0
        self._head = None

    def feed(self, cmd):
        head = (cmd.cla & ~proto.CLA_CHAIN, cmd.ins, cmd.p1, cmd.p2)
        if self._head is not None and head != self._head:
            self.reset()
            raise APDUError("command chain interrupted by another command")
        if not cmd.chained and self._head is None:
            return cmd
        n = len(cmd.data)
        if self._len + n > self.limit:
            self.reset()
            raise APDUError("chained command longer than %d bytes" % self.limit)
        self._buf[self._len : self._len + n] = cmd.data
        self._len += n
        if cmd.chained:
            if cmd.le is not None:
                self.reset()
                raise APDUError("Le in a part that is not the last of a chain")
            self._head = head
            return None
        # A view of the buffer, as parse_command gives a view of the APDU: no copy of the whole
        # command (ACCEPT's is the largest thing a card receives), whose block a fragmented
        # heap may not have. The next chain overwrites the buffer, so a handler copies what it
        # keeps, as it does from any command.
        data = memoryview(self._buf)[: self._len]
        whole = Command(head[0], cmd.ins, cmd.p1, cmd.p2, data, cmd.le)
        self.reset()
        return whole


def build_response(data, sw):
    """Encode a response APDU: data then SW1 SW2; at most 250 bytes."""
    if sw < 0 or sw > 0xFFFF:
        raise APDUError("status word 0x%X out of range" % sw)
    if len(data) > MAX_RESPONSE_DATA:
        raise APDUError("response data of %d bytes exceeds %d" % (len(data), MAX_RESPONSE_DATA))
    out = bytearray(len(data) + 2)
    out[: len(data)] = data
    out[-2] = sw >> 8
    out[-1] = sw & 0xFF
    return bytes(out)


class ResponseQueue:
    """Card side of response chaining: hands out a long response in parts ending in 61XX."""

    def __init__(self):
        self._data = b""
        self._pos = 0
        self._sw = proto.SW_OK

    @property
    def pending(self):
        return self._pos < len(self._data)

    def clear(self):
        self._data = b""
        self._pos = 0

    def start(self, data, sw):
        """The first response APDU for (data, sw); the rest waits for GET RESPONSE."""
        self._data = data
        self._pos = 0
        self._sw = sw
        return self.next_part(MAX_RESPONSE_DATA)

    def next_part(self, le):
        """The next response APDU, of at most min(le, 248) data bytes."""
        take = min(le, MAX_RESPONSE_DATA, len(self._data) - self._pos)
        # A view: build_response copies the part into the response, once.
        part = memoryview(self._data)[self._pos : self._pos + take]
        self._pos += take
        left = len(self._data) - self._pos
        if left == 0:
            self.clear()
            return build_response(part, self._sw)
        return build_response(part, proto.SW_MORE_DATA | (left if left < 256 else 0))
