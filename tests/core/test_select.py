"""SELECT as ISO 7816-4 (section 11.1.1) says: an unknown AID is 6A82 and leaves the current
selection as it was; P2 0C selects without response data; other P1 P2 are 6A86.

Runs on CPython and on MicroPython, each raw APDU through the applet as a reader sends it.
"""

from _cards import World

from purse import proto, reader

OTHER_AID = bytes.fromhex("A0000000031010")  # Another application's AID (a payment scheme's).


def _select(card, aid, p1=0x04, p2=0x00, le=256):
    command = reader.build_command(proto.CLA_ISO, proto.INS_SELECT, p1, p2, aid, le)
    return reader.parse_response(card.applet.process(command))


def _info_answers(card):
    """GET INFO's status word: 9000 while the purse is selected, 6985 before."""
    command = reader.build_command(proto.CLA_PROPRIETARY, proto.INS_GET_INFO, 0, 0, b"", 256)
    return reader.parse_response(card.applet.process(command))[1]


def test_an_unknown_aid_is_6a82_before_the_purse_is_selected():
    card = World().new_card(b"A", 100)
    card.applet.reset()
    assert _select(card, OTHER_AID) == (b"", proto.SW_NOT_FOUND)
    assert _info_answers(card) == proto.SW_WRONG_STATE


def test_a_failed_select_of_another_aid_keeps_the_purse_selected():
    card = World().new_card(b"A", 100)
    body, sw = _select(card, proto.AID)
    assert sw == proto.SW_OK and body
    assert _select(card, OTHER_AID) == (b"", proto.SW_NOT_FOUND)
    assert _info_answers(card) == proto.SW_OK
    # A truncated or longer purse AID is another AID too.
    assert _select(card, proto.AID[:-1])[1] == proto.SW_NOT_FOUND
    assert _select(card, proto.AID + b"\x00")[1] == proto.SW_NOT_FOUND
    assert _info_answers(card) == proto.SW_OK
    # Trying other AIDs is routine for a terminal: it leaves the card's log of refusals alone.
    assert card.client.log() == []


def test_p2_0c_selects_without_response_data():
    card = World().new_card(b"A", 100)
    card.applet.reset()
    assert _select(card, proto.AID, p2=0x0C, le=None) == (b"", proto.SW_OK)
    assert _info_answers(card) == proto.SW_OK
    # The FCI still comes with P2 00.
    body, sw = _select(card, proto.AID)
    assert sw == proto.SW_OK and body[:1] == bytes((proto.TAG_INFO,))


def test_other_p1_p2_are_6a86_and_change_nothing():
    card = World().new_card(b"A", 100)
    card.applet.reset()
    for p1, p2 in ((0x00, 0x00), (0x04, 0x04), (0x04, 0x08), (0x04, 0x02), (0x02, 0x0C)):
        assert _select(card, proto.AID, p1, p2) == (b"", proto.SW_WRONG_P1P2), (p1, p2)
    assert _info_answers(card) == proto.SW_WRONG_STATE
