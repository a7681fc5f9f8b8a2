"""The applet's sessions (Applet.swap_session): a reader in the RF field gets one of its own,
and the wired link's comes back after it, as purse.tap.serve uses them.

Runs on CPython and on MicroPython, each raw APDU through the applet as a reader sends it.
"""

from _cards import World

from purse import proto, reader
from purse.client import CardClient, CardError


def _run(card, command):
    return reader.parse_response(card.applet.process(command))


def _info():
    return reader.build_command(proto.CLA_PROPRIETARY, proto.INS_GET_INFO, 0, 0, b"", 256)


def _select():
    return reader.build_command(
        proto.CLA_ISO, proto.INS_SELECT, proto.SELECT_BY_NAME, proto.SELECT_FCI, proto.AID, 256
    )


def test_a_fresh_session_is_unselected_and_the_one_set_aside_comes_back():
    card = World().new_card(b"A", 100)
    assert _run(card, _select())[1] == proto.SW_OK
    wired = card.applet.swap_session()
    assert _run(card, _info())[1] == proto.SW_WRONG_STATE
    assert _run(card, _select())[1] == proto.SW_OK
    card.applet.swap_session(wired)
    assert _run(card, _info())[1] == proto.SW_OK


def test_a_response_left_unread_is_read_only_in_its_own_session():
    world = World()
    payer, recipient = world.new_card(b"P", 500), world.new_card(b"R")
    challenge = recipient.client.make_challenge(200, proto.SEAL_SIGNED)
    wired = payer.applet.swap_session()  # A reader comes.
    assert _run(payer, _select())[1] == proto.SW_OK
    answer = None
    for part in reader.chain_command(proto.CLA_PROPRIETARY, proto.INS_PAY, 0, 0, challenge, 256):
        answer = _run(payer, part)
    assert answer[1] >> 8 == proto.SW_MORE_DATA >> 8  # The payment is longer than one answer.
    gone = payer.applet.swap_session(wired)  # The reader left without reading the rest.
    rest = reader.build_command(proto.CLA_ISO, proto.INS_GET_RESPONSE, 0, 0, b"", 256)
    assert _run(payer, rest)[1] == proto.SW_WRONG_STATE
    payer.applet.swap_session()  # The next reader's session.
    assert _run(payer, rest)[1] == proto.SW_WRONG_STATE
    payer.applet.swap_session(gone)  # Set back, the session set aside still holds its rest.
    body, sw = _run(payer, rest)
    assert body and sw >> 8 in (proto.SW_OK >> 8, proto.SW_MORE_DATA >> 8)


def test_a_chain_set_aside_mid_way_is_completed_in_its_own_session():
    """The wired link was sending a chained command (a signed-mode challenge to PAY) when a
    reader came: the reader's session gets a buffer of its own, so both work, and the wired
    link's chain ends with its own parts, the payment made."""
    world = World()
    payer, recipient = world.new_card(b"P", 500), world.new_card(b"R")
    challenge = recipient.client.make_challenge(200, proto.SEAL_SIGNED)
    parts = reader.chain_command(proto.CLA_PROPRIETARY, proto.INS_PAY, 0, 0, challenge, 256)
    assert len(parts) > 1
    assert _run(payer, _select())[1] == proto.SW_OK
    assert _run(payer, parts[0]) == (b"", proto.SW_OK)
    chain = payer.applet._chain
    wired = payer.applet.swap_session()
    assert payer.applet._chain is not chain  # Its parts stay where they are.
    assert _run(payer, _select())[1] == proto.SW_OK
    assert _run(payer, _info())[1] == proto.SW_OK
    payer.applet.swap_session(wired)
    for part in parts[1:]:
        body, sw = _run(payer, part)
    assert sw >> 8 == proto.SW_MORE_DATA >> 8 and body
    assert payer.client.info().balance == 300


def test_sessions_share_the_chain_buffer_and_never_continue_each_others_chains():
    world = World()
    payer, recipient = world.new_card(b"P", 500), world.new_card(b"R")
    challenge = recipient.client.make_challenge(200, proto.SEAL_SIGNED)
    parts = reader.chain_command(proto.CLA_PROPRIETARY, proto.INS_PAY, 0, 0, challenge, 256)
    assert _run(payer, _select())[1] == proto.SW_OK
    chain = payer.applet._chain
    wired = payer.applet.swap_session()
    assert payer.applet._chain is chain  # Not mid-chain: one 1 KiB buffer for both.
    assert _run(payer, _select())[1] == proto.SW_OK
    assert _run(payer, parts[0]) == (b"", proto.SW_OK)  # The reader starts a chain, and goes.
    payer.applet.swap_session(wired)
    # The wired link is not in the reader's chain: another command is no interruption of it.
    assert _run(payer, _info())[1] == proto.SW_OK
    assert payer.client.info().balance == 500


def test_over_the_rf_field_the_card_answers_only_what_a_tap_needs():
    """A reader in the field is the other party's. Before, the card answered it everything but
    GET LOG: any reader in a pocket's range read the holder's balance and card id (GET INFO)
    and recent payments (READ JOURNAL, READ OUTBOX), and could replace the nonce or the
    pending challenges of the holder's own exchanges. Now only SELECT, PAY and GET RESPONSE
    are answered there, the rest refused 6985 and logged; the wired link answers as before."""
    world = World()
    payer, recipient = world.new_card(b"P", 500), world.new_card(b"R")
    world.transfer(payer, recipient, 100)  # Something in the payer's journal to read.
    peer = CardClient(payer.applet.process_remote)
    peer.select()
    refused = (
        ("GET INFO", proto.INS_GET_INFO, 0, 0, b""),
        ("READ JOURNAL", proto.INS_READ_JOURNAL, 0, 0, b""),
        ("READ OUTBOX", proto.INS_READ_OUTBOX, 0, 0, b""),
        ("GET NONCE", proto.INS_GET_NONCE, 0, 0, b""),
        ("MAKE CHALLENGE", proto.INS_MAKE_CHALLENGE, 1, 0, b"\x85\x04\x00\x00\x00\x0a"),
        ("GET LOG", proto.INS_GET_LOG, 0, 0, b""),
    )
    for name, ins, p1, p2, data in refused:
        try:
            peer.command(name, ins, p1, p2, data)
        except CardError as exc:
            assert exc.sw == proto.SW_WRONG_STATE, (name, hex(exc.sw))
        else:
            raise AssertionError("%s was answered over the RF field" % name)
    # What a tap needs is answered: the payer pays the recipient's challenge over the field.
    challenge = recipient.client.make_challenge(50, proto.SEAL_ENCRYPTED)
    payment = peer.pay(challenge)
    assert recipient.client.accept(challenge, payment)[0] == 50
    # Over the wired link all is as it was, the refusals in the log.
    assert payer.client.info().balance == 350
    assert [entry[0] for entry in payer.client.log()] == [ins for _, ins, _, _, _ in refused]
