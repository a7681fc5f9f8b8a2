"""icpurse.cardlog: the card's log entries in words, not codes."""

from icpurse import cardlog
from purse import applet, errors, proto


def test_every_reason_has_words():
    for n in range(1, len(applet.LOG_REASONS) + 1):
        words = cardlog.reason_words(n)
        assert not words.startswith("reason"), n
    assert cardlog.reason_words(0) == "no more detail"
    assert "unknown" in cardlog.reason_words(200)


def test_an_entry_reads_as_words():
    seal = 1 + applet.LOG_REASONS.index(errors.SealError)
    line = cardlog.describe((proto.INS_ACCEPT, seal, proto.SW_SECURITY))
    assert line.startswith("ACCEPT: the sealed challenge (eC) did not open; answered 6982: ")
    assert "did not check out" in line
    assert cardlog.describe((0, 1 + applet.LOG_REASONS.index(errors.APDUError), 0x6700)) == (
        "an unreadable command: the command APDU was malformed; answered 6700: "
        "the command had the wrong length"
    )


def test_lines_of_a_card_log():
    from _cards import World  # tests/core: the in-process cards.

    world = World()
    a = world.new_card(b"A")
    try:
        a.client.read_outbox(200)
    except errors.PurseError:
        pass
    assert cardlog.lines(a.client.log()) == [
        "READ OUTBOX: the card refused it; answered 6A88: no such entry on the card"
    ]
