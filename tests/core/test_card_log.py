"""GET LOG: the card's local log of refusals, over its own link only.

Runs on CPython and on MicroPython.
"""

from _cards import World
from _check import raises

from purse import applet, errors, proto, reader
from purse.client import CardClient, CardError
from purse.wallet.card import LOG_SIZE


def test_a_refusal_is_logged_with_its_command_reason_and_status_word():
    world = World()
    a = world.new_card(b"A", 100)
    assert a.client.log() == []
    with raises(CardError):
        a.client.make_challenge(10, 99)  # No such seal mode.
    with raises(CardError):
        a.client.pay(b"\x64\x00")  # An empty challenge: malformed.
    bad_p1p2 = 1 + applet.LOG_REASONS.index(applet.BadP1P2)
    record = 1 + applet.LOG_REASONS.index(errors.RecordError)
    assert a.client.log() == [
        (proto.INS_MAKE_CHALLENGE, bad_p1p2, proto.SW_WRONG_P1P2),
        (proto.INS_PAY, record, proto.SW_SECURITY),
    ]
    # Reading does not clear it.
    assert len(a.client.log()) == 2


def test_the_log_keeps_the_last_entries_in_four_bytes_each():
    world = World()
    a = world.new_card(b"A")
    for _ in range(LOG_SIZE + 3):
        with raises(CardError):
            a.client.read_outbox(200)
    assert len(a.client.log()) == LOG_SIZE
    assert all(len(entry) == 4 for entry in a.card.log)


def test_get_log_is_refused_over_the_rf_field():
    world = World()
    a = world.new_card(b"A")
    with raises(CardError):
        a.client.read_outbox(200)
    peer = CardClient(a.applet.process_remote)
    peer.select()
    with raises(CardError) as caught:
        peer.log()
    assert caught.value.sw == proto.SW_WRONG_STATE
    # Over the card's own link the log is there, the peer's refused GET LOG included.
    assert [e[0] for e in a.client.log()] == [proto.INS_READ_OUTBOX, proto.INS_GET_LOG]
    assert not a.applet.remote


def test_get_log_takes_no_p1_p2_and_needs_select():
    world = World()
    a = world.new_card(b"A")
    with raises(CardError) as caught:
        a.client.command("GET LOG", proto.INS_GET_LOG, 1, 0)
    assert caught.value.sw == proto.SW_WRONG_P1P2
    a.applet.reset()
    raw = reader.build_command(proto.CLA_PROPRIETARY, proto.INS_GET_LOG, 0, 0)
    assert a.applet.process(raw)[-2:] == b"\x69\x85"
