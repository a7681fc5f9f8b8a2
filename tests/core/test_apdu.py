"""ISO 7816-4 short APDUs: the four cases, size rules, command and response chaining."""

from _check import raises, unhex

from purse import apdu, proto, reader
from purse.errors import APDUError

# SELECT of the EMV application A0000000031010 (EMV Book 1, 11.3), as case 3 and as case 4.
SELECT_CASE3 = unhex("00 A4 04 00 07 A0 00 00 00 03 10 10")
SELECT_CASE4 = unhex("00 A4 04 00 07 A0 00 00 00 03 10 10 00")
# GET CHALLENGE for 8 bytes (ISO 7816-4 section 11.5.3): case 2.
GET_CHALLENGE = unhex("00 84 00 00 08")


def test_case1():
    cmd = apdu.parse_command(unhex("80 48 00 00"))
    assert (cmd.cla, cmd.ins, cmd.p1, cmd.p2) == (0x80, 0x48, 0, 0)
    assert bytes(cmd.data) == b"" and cmd.le is None
    assert reader.build_command(0x80, 0x48, 0, 0) == unhex("80 48 00 00")


def test_case2():
    cmd = apdu.parse_command(GET_CHALLENGE)
    assert cmd.ins == 0x84 and cmd.le == 8 and bytes(cmd.data) == b""
    assert reader.build_command(0, 0x84, 0, 0, le=8) == GET_CHALLENGE
    assert apdu.parse_command(unhex("00 C0 00 00 00")).le == 256
    assert reader.build_command(0, 0xC0, 0, 0, le=256) == unhex("00 C0 00 00 00")


def test_case3():
    cmd = apdu.parse_command(SELECT_CASE3)
    assert bytes(cmd.data) == unhex("A0 00 00 00 03 10 10") and cmd.le is None
    assert reader.build_command(0, 0xA4, 4, 0, unhex("A0 00 00 00 03 10 10")) == SELECT_CASE3


def test_case4():
    cmd = apdu.parse_command(SELECT_CASE4)
    assert bytes(cmd.data) == unhex("A0 00 00 00 03 10 10") and cmd.le == 256
    assert reader.build_command(0, 0xA4, 4, 0, unhex("A0 00 00 00 03 10 10"), 256) == SELECT_CASE4


def test_parse_rejects_bad_lengths():
    with raises(APDUError, "shorter"):
        apdu.parse_command(unhex("00 A4 04"))
    with raises(APDUError, "does not match"):
        apdu.parse_command(unhex("00 A4 04 00 07 A0 00"))
    with raises(APDUError, "does not match"):
        apdu.parse_command(SELECT_CASE4 + b"\x00")
    with raises(APDUError, "extended"):
        apdu.parse_command(unhex("00 A4 04 00 00 00 07 A0 00 00 00 03 10 10"))
    with raises(APDUError, "exceeds"):
        apdu.parse_command(unhex("80 56 00 00 F6") + bytes(246))
    with raises(APDUError, "reserved"):
        apdu.parse_command(unhex("FF A4 04 00"))


def test_build_enforces_250_bytes():
    assert len(reader.build_command(0x80, 0x56, 0, 0, bytes(245))) == 250
    assert len(reader.build_command(0x80, 0x56, 0, 0, bytes(244), 256)) == 250
    with raises(APDUError, "exceeds"):
        reader.build_command(0x80, 0x56, 0, 0, bytes(246))
    with raises(APDUError, "exceeds"):
        reader.build_command(0x80, 0x56, 0, 0, bytes(245), 1)
    with raises(APDUError, "not a byte"):
        reader.build_command(0x80, 0x156, 0, 0)
    with raises(APDUError, "Le"):
        reader.build_command(0x80, 0x56, 0, 0, le=257)


def test_response_round_trip():
    assert apdu.build_response(b"\x01\x02", proto.SW_OK) == unhex("01 02 90 00")
    assert reader.parse_response(unhex("6A 82")) == (b"", proto.SW_NOT_FOUND)
    assert reader.parse_response(unhex("01 02 90 00")) == (b"\x01\x02", 0x9000)
    with raises(APDUError, "no status word"):
        reader.parse_response(b"\x90")
    with raises(APDUError, "exceeds"):
        apdu.build_response(bytes(249), proto.SW_OK)
    with raises(APDUError, "exceeds"):
        reader.parse_response(bytes(251))


def _chain_through_card(data, le=None):
    parts = reader.chain_command(0x80, 0x42, 1, 2, data, le)
    card = apdu.ChainAssembler()
    whole = None
    for i, part in enumerate(parts):
        assert len(part) <= proto.MAX_COMMAND_APDU
        cmd = apdu.parse_command(part)
        assert cmd.chained == (i < len(parts) - 1)
        whole = card.feed(cmd)
        assert (whole is None) == (i < len(parts) - 1)
    return parts, whole


def test_command_chaining_splits_and_reassembles():
    for n in (0, 1, 244, 245, 246, 490, 491, 700, 1024):
        data = bytes(i & 0xFF for i in range(n))
        for le in (None, 256):
            parts, whole = _chain_through_card(data, le)
            assert bytes(whole.data) == data and whole.le == le
            assert whole.cla == 0x80 and (whole.ins, whole.p1, whole.p2) == (0x42, 1, 2)
    parts, _ = _chain_through_card(bytes(246))
    assert len(parts) == 2 and parts[0][0] == 0x90 and parts[1][0] == 0x80


def test_chain_interrupted_or_too_long():
    card = apdu.ChainAssembler(limit=300)
    card.feed(apdu.parse_command(reader.build_command(0x90, 0x42, 0, 0, bytes(200))))
    assert card.in_progress
    with raises(APDUError, "interrupted"):
        card.feed(apdu.parse_command(reader.build_command(0x80, 0x50, 0, 0)))
    assert not card.in_progress
    card.feed(apdu.parse_command(reader.build_command(0x90, 0x42, 0, 0, bytes(200))))
    with raises(APDUError, "longer"):
        card.feed(apdu.parse_command(reader.build_command(0x80, 0x42, 0, 0, bytes(200))))
    with raises(APDUError, "Le"):
        card.feed(apdu.parse_command(reader.build_command(0x90, 0x42, 0, 0, bytes(2), 4)))


def test_response_chaining_with_get_response():
    for n in (0, 1, 248, 249, 496, 600, 1500):
        data = bytes((i * 7) & 0xFF for i in range(n))
        card = apdu.ResponseQueue()
        sent = []

        def exchange(command, card=card, sent=sent, data=data):
            sent.append(command)
            cmd = apdu.parse_command(command)
            if cmd.ins == proto.INS_GET_RESPONSE:
                return card.next_part(cmd.le)
            return card.start(data, proto.SW_OK)

        body, sw = reader.transceive(exchange, 0x80, proto.INS_READ_JOURNAL, 0, 0, le=256)
        assert body == data and sw == proto.SW_OK
        assert len(sent) == 1 + max(0, (n - 1) // 248)
        assert not card.pending


def test_response_parts_announce_remaining_bytes():
    card = apdu.ResponseQueue()
    first = card.start(bytes(300), proto.SW_FUNDS)
    assert len(first) == 250 and first[-2:] == unhex("61 34")
    last = card.next_part(0x34)
    assert len(last) == 0x34 + 2 and last[-2:] == unhex("94 01")
    card.start(bytes(600), proto.SW_OK)
    assert card.next_part(256)[-2:] == unhex("61 68")


def test_transceive_stops_on_chain_error():
    def exchange(command):
        return unhex("6A 80")

    assert reader.transceive(exchange, 0x80, 0x42, 0, 0, bytes(600)) == (b"", proto.SW_WRONG_DATA)
