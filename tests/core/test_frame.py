"""Serial framing: COBS vectors from Cheshire and Baker's paper, CRC, resynchronisation."""

from _check import raises, unhex

from purse import frame, proto
from purse.errors import FrameError

# The encoding examples of the COBS paper (IEEE/ACM ToN 1999, figure 2) as widely reprinted:
# (data, COBS encoding without the 0x00 delimiter).
COBS_VECTORS = (
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (unhex("00 11 00"), unhex("01 02 11 01")),
    (unhex("11 22 00 33"), unhex("03 11 22 02 33")),
    (unhex("11 22 33 44"), unhex("05 11 22 33 44")),
    (unhex("11 00 00 00"), unhex("02 11 01 01 01")),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (b"\x00" + bytes(range(1, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
)

# A PING with sequence 0: packet 03 00 | CRC-32(03 00) = 6AF4413C, then COBS and delimiters.
PING_0 = unhex("00 02 03 05 6A F4 41 3C 00")


def test_cobs_vectors():
    for data, encoded in COBS_VECTORS:
        assert frame.cobs_encode(data) == encoded
        assert frame.cobs_decode(encoded) == data


def test_cobs_decode_rejects():
    with raises(FrameError, "empty"):
        frame.cobs_decode(b"")
    with raises(FrameError, "zero byte"):
        frame.cobs_decode(unhex("03 11 00"))
    with raises(FrameError, "zero byte"):
        frame.cobs_decode(unhex("00 01"))
    with raises(FrameError, "past the end"):
        frame.cobs_decode(unhex("05 11 22"))


def test_frame_vector():
    assert frame.encode_frame(proto.FRAME_PING, 0) == PING_0
    assert frame.decode_frame(PING_0[1:-1]) == (proto.FRAME_PING, 0, b"")


def test_frame_round_trip():
    for payload in (b"", b"\x00", bytes(range(256)), bytes(proto.MAX_FRAME_PAYLOAD)):
        wire = frame.encode_frame(proto.FRAME_COMMAND, 0xFE, payload)
        assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
        assert len(wire) - 2 <= frame.MAX_ENCODED
        kind, seq, got = frame.decode_frame(wire[1:-1])
        assert (kind, seq, got) == (proto.FRAME_COMMAND, 0xFE, payload)


def test_frame_rejects_bad_crc_and_types():
    wire = bytearray(frame.encode_frame(proto.FRAME_RESPONSE, 1, b"\x90\x00"))
    wire[4] ^= 0x01  # 0x90 -> 0x91: the payload changes, the COBS structure does not.
    with raises(FrameError, "CRC"):
        frame.decode_frame(bytes(wire[1:-1]))
    with raises(FrameError, "shorter"):
        frame.decode_frame(frame.cobs_encode(b"\x01\x00\x00"))
    bogus = bytearray(b"\x77\x00")
    bogus += (0x2A1E9F4B).to_bytes(4, "big")
    with raises(FrameError):
        frame.decode_frame(frame.cobs_encode(bogus))
    with raises(FrameError, "unknown frame type"):
        frame.encode_frame(0x77, 0)
    with raises(FrameError, "exceeds"):
        frame.encode_frame(proto.FRAME_COMMAND, 0, bytes(proto.MAX_FRAME_PAYLOAD + 1))
    with raises(FrameError, "exceeds"):
        frame.decode_frame(b"\x01" * (frame.MAX_ENCODED + 1))


def test_deframer_resynchronises_after_garbage():
    good = frame.encode_frame(proto.FRAME_COMMAND, 5, b"\x80\x50\x00\x00")
    noise = b"\x13\x37\xff\x42" * 20
    d = frame.Deframer()
    frames = d.feed(noise + good + good)
    # The noise before the first delimiter comes out as one undecodable frame, then two good.
    assert len(frames) == 3
    with raises(FrameError):
        frame.decode_frame(frames[0])
    assert frame.decode_frame(frames[1]) == (proto.FRAME_COMMAND, 5, b"\x80\x50\x00\x00")
    assert frames[2] == frames[1]


def test_deframer_handles_split_input_and_drops_oversize():
    good = frame.encode_frame(proto.FRAME_PONG, 9, b"hi")
    d = frame.Deframer()
    got = []
    for i in range(len(good)):
        got += d.feed(good[i : i + 1])
    assert [frame.decode_frame(f) for f in got] == [(proto.FRAME_PONG, 9, b"hi")]
    got = d.feed(b"\x01" * (frame.MAX_ENCODED + 10) + good)
    assert d.dropped == 1
    assert [frame.decode_frame(f) for f in got] == [(proto.FRAME_PONG, 9, b"hi")]
