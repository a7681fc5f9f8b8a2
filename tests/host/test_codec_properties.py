"""Property tests of the core codecs (CPython only, with Hypothesis).

Round trips hold for every valid input, and arbitrary bytes make each decoder either succeed or
raise its one documented error: TLVError, APDUError or FrameError, never anything else.
"""

import zlib

from cobs import cobs
from hypothesis import given, settings
from hypothesis import strategies as st

from purse import apdu, frame, proto, reader, tlv
from purse.errors import APDUError, FrameError, TLVError

# Tags the encoder accepts: one byte outside the universal class and not announcing a longer
# tag, or two bytes whose second byte is 0x1F..0x7F.
one_byte_tags = st.integers(0x40, 0xFF).filter(lambda t: t & 0x1F != 0x1F)
two_byte_tags = st.builds(
    lambda first, second: (first << 8) | second,
    st.sampled_from([0x5F, 0x7F, 0x9F, 0xBF, 0xDF, 0xFF]),
    st.integers(0x1F, 0x7F),
)
tags = st.one_of(one_byte_tags, two_byte_tags)
values = st.binary(max_size=600)


@given(st.lists(st.tuples(tags, values), max_size=6))
def test_tlv_round_trip(items):
    encoded = tlv.encode_all(items)
    decoded = [(t, bytes(v)) for t, v in tlv.decode_all(encoded)]
    assert decoded == items
    for tag, value in items:
        one = tlv.encode(tag, value)
        assert len(one) == tlv.encoded_size(tag, len(value))
        assert tlv.decode_one(one) == (tag, value)


def _decoder_accepts(tag):
    """Whether the decoder reads `tag`'s shortest big-endian bytes back as exactly that tag."""
    if tag < 0:
        return False
    size = max(1, (tag.bit_length() + 7) // 8)
    data = tag.to_bytes(size, "big")
    try:
        return tlv._read_tag(memoryview(data), 0, size) == (tag, size)
    except TLVError:
        return False


def _encoder_accepts(tag):
    try:
        tlv._tag_bytes(tag)
    except TLVError:
        return False
    return True


def test_tag_encoder_agrees_with_decoder_on_every_short_tag():
    """The encoder checks tags arithmetically; it must accept exactly what the decoder reads,
    so it can never write a tag the decoder refuses, nor refuse one it reads."""
    for tag in range(-1, 0x10001):
        assert _encoder_accepts(tag) == _decoder_accepts(tag), hex(tag)


@given(st.integers(0x10000, 0x1FFFFFF))
@settings(max_examples=2000)
def test_tag_encoder_agrees_with_decoder_on_three_byte_tags(tag):
    assert _encoder_accepts(tag) == _decoder_accepts(tag)
    if _encoder_accepts(tag):
        assert tlv._read_tag(memoryview(tlv._tag_bytes(tag)), 0, 3) == (tag, 3)


def test_tag_encoder_agrees_with_decoder_near_three_byte_boundaries():
    """Every second byte, with first and third bytes on each side of the rules' edges."""
    for first in (0x1F, 0x3F, 0x5E, 0x5F, 0x7F, 0xFF):
        for second in range(0x100):
            for third in (0x00, 0x1E, 0x1F, 0x7F, 0x80, 0x81, 0xFF):
                tag = (first << 16) | (second << 8) | third
                assert _encoder_accepts(tag) == _decoder_accepts(tag), hex(tag)


@given(st.binary(max_size=300))
@settings(max_examples=2000)
def test_tlv_decoders_raise_only_tlverror(data):
    schema = ((0x80, 0, 8, 0), (0x81, 0, 300, tlv.OPTIONAL), (0xA2, 0, 300, tlv.REPEATED))
    for decode in (tlv.decode_all, tlv.decode_one, lambda d: tlv.decode_fields(d, schema)):
        try:
            decode(data)
        except TLVError:
            pass


@given(st.binary(min_size=1, max_size=300))
def test_tlv_decoded_is_canonical(data):
    """Whatever decodes re-encodes to the same bytes: there is one encoding of each value."""
    try:
        items = tlv.decode_all(data)
    except TLVError:
        return
    assert tlv.encode_all([(t, bytes(v)) for t, v in items]) == data


@given(
    st.integers(0, 0xFE),
    st.integers(0, 0xFF),
    st.integers(0, 0xFF),
    st.integers(0, 0xFF),
    st.binary(max_size=244),
    st.one_of(st.none(), st.integers(1, 256)),
)
def test_apdu_round_trip(cla, ins, p1, p2, data, le):
    raw = reader.build_command(cla, ins, p1, p2, data, le)
    cmd = apdu.parse_command(raw)
    assert (cmd.cla, cmd.ins, cmd.p1, cmd.p2, bytes(cmd.data), cmd.le) == (
        cla,
        ins,
        p1,
        p2,
        data,
        le,
    )


@given(st.binary(max_size=1024), st.one_of(st.none(), st.integers(1, 256)))
def test_command_chaining_round_trip(data, le):
    card = apdu.ChainAssembler()
    parts = reader.chain_command(0x80, 0x56, 0, 0, data, le)
    results = [card.feed(apdu.parse_command(p)) for p in parts]
    assert all(len(p) <= proto.MAX_COMMAND_APDU for p in parts)
    assert results[:-1] == [None] * (len(parts) - 1)
    assert bytes(results[-1].data) == data and results[-1].le == le


@given(st.binary(max_size=3000), st.integers(0, 0xFFFF))
def test_response_chaining_round_trip(data, sw):
    card = apdu.ResponseQueue()

    def exchange(raw):
        assert len(raw) <= proto.MAX_COMMAND_APDU
        cmd = apdu.parse_command(raw)
        reply = card.next_part(cmd.le) if cmd.ins == proto.INS_GET_RESPONSE else None
        reply = reply or card.start(data, sw if sw >> 8 != 0x61 else proto.SW_OK)
        assert len(reply) <= proto.MAX_RESPONSE_APDU
        return reply

    body, got_sw = reader.transceive(exchange, 0x80, proto.INS_READ_JOURNAL, 0, 0)
    assert body == data
    assert got_sw == (sw if sw >> 8 != 0x61 else proto.SW_OK)


@given(st.binary(max_size=300))
@settings(max_examples=2000)
def test_apdu_parsers_raise_only_apduerror(data):
    for parse in (apdu.parse_command, reader.parse_response):
        try:
            parse(data)
        except APDUError:
            pass


@given(st.binary(max_size=700))
def test_cobs_matches_reference_implementation(data):
    """The core's COBS agrees with the PyPI package `cobs` (an independent implementation)."""
    assert frame.cobs_encode(data) == cobs.encode(data)
    assert frame.cobs_decode(cobs.encode(data)) == data


@given(st.sampled_from(proto.FRAME_TYPES), st.integers(0, 255), st.binary(max_size=256))
def test_frame_matches_independent_construction(kind, seq, payload):
    packet = bytes([kind, seq]) + payload
    packet += zlib.crc32(packet).to_bytes(4, "big")
    expected = b"\x00" + cobs.encode(packet) + b"\x00"
    assert frame.encode_frame(kind, seq, payload) == expected
    assert frame.decode_frame(expected[1:-1]) == (kind, seq, payload)


@given(st.binary(max_size=400))
@settings(max_examples=2000)
def test_frame_decoder_raises_only_frameerror(data):
    try:
        frame.decode_frame(data)
    except FrameError:
        pass


@given(
    st.lists(st.one_of(st.binary(max_size=40), st.binary(min_size=1, max_size=260)), max_size=8)
)
def test_deframer_finds_every_frame_after_noise(chunks):
    """Good frames sent after arbitrary noise all come out, whatever the noise was."""
    d = frame.Deframer()
    noise = b"".join(chunks)
    good = [frame.encode_frame(proto.FRAME_COMMAND, i, bytes([i]) * i) for i in range(3)]
    found = []
    for raw in d.feed(noise + b"".join(good)):
        try:
            found.append(frame.decode_frame(raw))
        except FrameError:
            pass
    assert found[-3:] == [(proto.FRAME_COMMAND, i, bytes([i]) * i) for i in range(3)]
