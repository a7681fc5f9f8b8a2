"""The card side of the serial link (firmware/link.py), byte for byte, with an in-process card:
repeated sequence numbers, unreadable frames, the REPL escape before and after LOCK, the board
profile's name at boot and in every ping's answer, and probes that keep the last answer."""

import sys

from mp_support import FIRMWARE, ROOT

sys.path.insert(0, str(FIRMWARE))
sys.path.insert(0, str(ROOT / "tests" / "core"))
from _cards import World
from link import CardLink

from icpurse.seriallink import BOARD_NOTICE, LINK_PROBE
from icpurse.timeouts import BOARD_NAME_MAX
from purse import frame, proto, reader


class Wire:
    """Collects what the card writes and decodes it into frames."""

    def __init__(self):
        self.deframer = frame.Deframer()
        self.frames = []

    def write(self, data):
        self.frames += [frame.decode_frame(raw) for raw in self.deframer.feed(data)]


def _link(card):
    wire = Wire()
    return CardLink(lambda n: b"", wire.write, card.applet), wire


def _command(seq, raw):
    return frame.encode_frame(proto.FRAME_COMMAND, seq, raw)[1:-1]


def test_a_repeated_sequence_number_is_answered_without_running_again():
    world = World()
    b = world.new_card(b"B")
    link, wire = _link(b)
    challenge = reader.build_command(
        proto.CLA_PROPRIETARY, proto.INS_MAKE_CHALLENGE, 1, 0, b"\x85\x04\x00\x00\x00\x05"
    )
    select = reader.build_command(proto.CLA_ISO, proto.INS_SELECT, 4, 0, proto.AID)
    link.handle(_command(1, select))
    link.handle(_command(2, challenge))
    link.handle(_command(2, challenge))
    assert wire.frames[1] == wire.frames[2]
    assert len(b.card.pending) == 1  # The challenge was made once.
    link.handle(_command(3, challenge))
    assert len(b.card.pending) == 2 and wire.frames[3][1] == 3


def test_a_ping_begins_a_session_whose_first_number_is_no_repeat():
    # A host session numbers its commands from 1, as the one before it did. After the ping
    # that begins it, a command with the number of the last answer is a new command.
    world = World()
    b = world.new_card(b"B")
    link, wire = _link(b)
    select = reader.build_command(proto.CLA_ISO, proto.INS_SELECT, 4, 0, proto.AID)
    challenge = reader.build_command(
        proto.CLA_PROPRIETARY, proto.INS_MAKE_CHALLENGE, 1, 0, b"\x85\x04\x00\x00\x00\x05"
    )
    link.handle(_command(1, select))  # The last session's last command.
    link.handle(frame.encode_frame(proto.FRAME_PING, 1, b"")[1:-1])
    link.handle(_command(1, challenge))  # The new session's first.
    assert len(b.card.pending) == 1  # The challenge was made, not SELECT's answer sent.
    assert wire.frames[2][:2] == (proto.FRAME_RESPONSE, 1)
    assert wire.frames[2][2] != wire.frames[0][2]
    # Without a ping, the same number is a repeat: answered again, not run again.
    link.handle(_command(1, challenge))
    assert wire.frames[3] == wire.frames[2] and len(b.card.pending) == 1


def test_a_board_answer_is_never_sent_for_a_command():
    world = World()
    b = world.new_card(b"B")
    wire = Wire()
    link = CardLink(lambda n: b"", wire.write, b.applet, board=lambda payload: b"ok board")
    select = reader.build_command(proto.CLA_ISO, proto.INS_SELECT, 4, 0, proto.AID)
    link.handle(frame.encode_frame(proto.FRAME_BOARD, 1, b"arm 5")[1:-1])
    link.handle(_command(1, select))
    assert wire.frames[0] == (proto.FRAME_BOARD, 1, b"ok board")
    assert wire.frames[1][:2] == (proto.FRAME_RESPONSE, 1)
    assert wire.frames[1][2][-2:] == b"\x90\x00"


def test_unreadable_frames_get_a_nak():
    world = World()
    link, wire = _link(world.new_card(b"B"))
    bad = bytearray(_command(7, b"\x00\xa4\x04\x00"))
    bad[4] ^= 0x01
    link.handle(bytes(bad))
    assert wire.frames == [(proto.FRAME_NAK, 0, b"bad frame")]


def test_repl_escape_only_before_personalisation():
    world = World()
    fresh = world.new_card(b"A")
    link, wire = _link(fresh)
    ping = frame.encode_frame(proto.FRAME_PING, 4, proto.REPL_ESCAPE)[1:-1]
    # A personalised card answers the escape like any ping and stays on the link.
    assert link.handle(ping) is None
    assert wire.frames[-1] == (proto.FRAME_PONG, 4, b"board unnamed")
    fresh.memory.files.clear()
    fresh.power_cycle()
    assert fresh.card.state.lifecycle == proto.STATE_FRESH
    assert link.handle(ping) == "repl"
    assert wire.frames[-1] == (proto.FRAME_PONG, 4, proto.REPL_ESCAPE)


def test_the_card_names_its_board_at_boot_and_in_every_ping_answer():
    world = World()
    wire = Wire()
    link = CardLink(lambda n: b"", wire.write, world.new_card(b"B").applet, profile="esp32s3")
    link.announce()
    # The boot notice as before, which hosts that know no board names still read; then the name.
    assert wire.frames == [
        (proto.FRAME_PONG, 0, proto.BOOT_NOTICE),
        (proto.FRAME_PONG, 0, b"board esp32s3"),
    ]
    link.handle(frame.encode_frame(proto.FRAME_PING, 9, b"")[1:-1])
    assert wire.frames[-1] == (proto.FRAME_PONG, 9, b"board esp32s3")
    # The card's literals are the host's names (a name in purse.proto would cost heap).
    assert wire.frames[-1][2] == BOARD_NOTICE + b"esp32s3"
    # A name longer than the protocol allows is cut, never sent whole.
    wire = Wire()
    link = CardLink(lambda n: b"", wire.write, world.new_card(b"C").applet, profile="x" * 40)
    link.handle(frame.encode_frame(proto.FRAME_PING, 1, b"")[1:-1])
    assert wire.frames[-1][2] == BOARD_NOTICE + b"x" * BOARD_NAME_MAX


def test_a_probe_keeps_the_last_answer_where_a_ping_forgets_it():
    world = World()
    b = world.new_card(b"B")
    link, wire = _link(b)
    select = reader.build_command(proto.CLA_ISO, proto.INS_SELECT, 4, 0, proto.AID)
    challenge = reader.build_command(
        proto.CLA_PROPRIETARY, proto.INS_MAKE_CHALLENGE, 1, 0, b"\x85\x04\x00\x00\x00\x05"
    )
    link.handle(_command(1, select))
    link.handle(_command(2, challenge))
    probe = LINK_PROBE + b"7"
    link.handle(frame.encode_frame(proto.FRAME_PING, 2, probe)[1:-1])
    assert wire.frames[-1] == (proto.FRAME_PONG, 2, probe)
    # The probe ended nothing: the command sent again is still a repeat, answered, not run.
    link.handle(_command(2, challenge))
    assert wire.frames[-1] == wire.frames[1] and len(b.card.pending) == 1
