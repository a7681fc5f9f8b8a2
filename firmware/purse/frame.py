"""Serial-link framing: COBS-encoded packets with a CRC-32, delimited by zero bytes.

A frame carries exactly one APDU or one response (docs/DESIGN.md section 8). Before COBS it is
    type (1 byte) | sequence (1 byte) | payload (0..MAX_FRAME_PAYLOAD bytes) | CRC-32 (4 bytes)
where the CRC-32 (binascii.crc32: ISO-HDLC, as in zlib) covers type, sequence and payload and is
written big-endian. The packet is then COBS-encoded (Cheshire and Baker, "Consistent Overhead
Byte Stuffing", 1999), which removes every zero byte, and sent between two 0x00 delimiters: the
leading one ends whatever noise a reset left on the line, so the receiver resynchronises on the
next frame. Deframer splits a byte stream into encoded frames, bounded in size; decode_frame()
checks one. Every failure raises FrameError.
"""

import binascii

from purse import proto
from purse.compat import const
from purse.errors import FrameError

DELIMITER = const(0)
# Packet bytes around the payload: type, sequence, CRC-32.
OVERHEAD = const(6)
MAX_PACKET = proto.MAX_FRAME_PAYLOAD + OVERHEAD
# COBS adds one byte per 254 and one at the start.
MAX_ENCODED = MAX_PACKET + MAX_PACKET // 254 + 1


def cobs_encode(data):
    """COBS-encode `data`: the result contains no zero byte and is at most len/254 + 1 longer."""
    n = len(data)
    out = bytearray(n + n // 254 + 1)
    return bytes(memoryview(out)[: _encode_into(data, out, 0)])


def _encode_into(data, out, start):
    """COBS-encode `data` into the bytearray `out` from `start` (room for len/254 + 1 more
    bytes than `data`); return the end. A frame is encoded where its delimiters already are:
    a card's heap is small, and each copy of a frame asks it for a block of the frame's size."""
    n = len(data)
    code_pos = start
    out_pos = start + 1
    code = 1
    for i in range(n):
        b = data[i]
        if b:
            out[out_pos] = b
            out_pos += 1
            code += 1
            if code < 0xFF:
                continue
        # A zero byte, or a full run of 254 non-zero bytes, closes the block. After a full run
        # a new block opens only if data follows, as in the paper's encoder.
        out[code_pos] = code
        code = 1
        code_pos = out_pos
        if b == 0 or i + 1 < n:
            out_pos += 1
    if code_pos < out_pos:
        out[code_pos] = code
    return out_pos


def cobs_decode(data):
    """Undo cobs_encode; refuses zero bytes and codes that run past the end."""
    out, n = _decode(data)
    return bytes(memoryview(out)[:n])


def _decode(data):
    """(bytearray, length) of cobs_decode(data): the buffer it decoded into, not a copy."""
    n = len(data)
    if n == 0:
        raise FrameError("empty COBS block")
    out = bytearray(n)
    out_pos = 0
    pos = 0
    while pos < n:
        code = data[pos]
        if code == 0:
            raise FrameError("zero byte inside a COBS block at offset %d" % pos)
        end = pos + code
        if end > n:
            raise FrameError("COBS code at offset %d runs past the end" % pos)
        for i in range(pos + 1, end):
            b = data[i]
            if b == 0:
                raise FrameError("zero byte inside a COBS block at offset %d" % i)
            out[out_pos] = b
            out_pos += 1
        pos = end
        # A code below 0xFF stands for the data run plus one zero, except at the very end.
        if code < 0xFF and pos < n:
            out[out_pos] = 0
            out_pos += 1
    return out, out_pos


def encode_frame(kind, seq, payload=b""):
    """The bytes to send for one frame, delimiters included."""
    if kind not in proto.FRAME_TYPES:
        raise FrameError("unknown frame type 0x%02X" % kind)
    if seq < 0 or seq > 0xFF:
        raise FrameError("sequence number %d is not a byte" % seq)
    if len(payload) > proto.MAX_FRAME_PAYLOAD:
        raise FrameError(
            "payload of %d bytes exceeds %d" % (len(payload), proto.MAX_FRAME_PAYLOAD)
        )
    n = len(payload) + OVERHEAD
    packet = bytearray(n)
    packet[0] = kind
    packet[1] = seq
    packet[2 : n - 4] = payload
    crc = binascii.crc32(memoryview(packet)[: n - 4]) & 0xFFFFFFFF
    packet[n - 4 :] = crc.to_bytes(4, "big")
    # The delimiters around the COBS block, in the one buffer it is encoded into.
    out = bytearray(n + n // 254 + 3)
    end = _encode_into(packet, out, 1)
    return bytes(memoryview(out)[: end + 1])


def decode_frame(encoded):
    """Check one encoded frame (without delimiters); return (type, sequence, payload)."""
    if len(encoded) > MAX_ENCODED:
        raise FrameError("frame of %d bytes exceeds %d" % (len(encoded), MAX_ENCODED))
    packet, n = _decode(encoded)
    if n < OVERHEAD:
        raise FrameError("frame of %d bytes is shorter than its header and CRC" % n)
    view = memoryview(packet)
    if binascii.crc32(view[: n - 4]) & 0xFFFFFFFF != int.from_bytes(packet[n - 4 : n], "big"):
        raise FrameError("CRC mismatch")
    kind = packet[0]
    if kind not in proto.FRAME_TYPES:
        raise FrameError("unknown frame type 0x%02X" % kind)
    return kind, packet[1], bytes(view[2 : n - 4])


class Deframer:
    """Splits a received byte stream into encoded frames at zero bytes.

    feed() returns the complete frames it found (bytes, delimiters removed, empty ones skipped).
    A run longer than MAX_ENCODED without a delimiter is noise or a torn frame: it is dropped up
    to the next delimiter and counted in `dropped`, so the stream resynchronises by itself.
    """

    def __init__(self, limit=MAX_ENCODED):
        self.limit = limit
        self._buf = bytearray(limit)
        self._len = 0
        self._overflow = False
        self.dropped = 0

    def feed(self, data):
        frames = []
        for b in data:
            if b == DELIMITER:
                if self._overflow:
                    self._overflow = False
                    self.dropped += 1
                elif self._len:
                    frames.append(bytes(memoryview(self._buf)[: self._len]))
                self._len = 0
            elif self._overflow:
                continue
            elif self._len == self.limit:
                self._overflow = True
                self._len = 0
            else:
                self._buf[self._len] = b
                self._len += 1
        return frames
