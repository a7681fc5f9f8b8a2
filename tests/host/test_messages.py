"""The card build's exception messages as numbers (icpurse.messages): every firmware message's
% conversions become arguments of their own, and a card's log line expands back to the message
the source raises."""

import json

import pytest

from icpurse import firmware_files, messages

SAMPLE = """
def check(n, limit):
    if n > limit:
        raise ValueError("command of %d bytes exceeds %d (100%% full)" % (n, limit))
    if n < 0:
        raise KeyError("negative length")
    raise ValueError("short")
"""


def _raised(source, *args):
    namespace = {}
    exec(compile(source, "sample", "exec"), namespace)  # noqa: S102 - the test's own source.
    with pytest.raises(Exception) as caught:
        namespace["check"](*args)
    return str(caught.value)


def _line(exc):
    """The exception as a card's log prints it: the class, then its argument (or arguments)."""
    text = str(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]  # CPython quotes a KeyError's one argument; a card does not.
    return "%s: %s" % (type(exc).__name__, text)


def _raised(source, *args):
    namespace = {}
    exec(compile(source, "sample", "exec"), namespace)  # noqa: S102 - the test's own source.
    with pytest.raises(Exception) as caught:
        namespace["check"](*args)
    return _line(caught.value)


def test_a_message_becomes_a_number_and_expands_to_the_full_one():
    table = {}
    short = messages.shorten(SAMPLE, table)
    assert len(table) == 3
    for words in ("exceeds", "negative", "short"):
        assert words not in short
    for args in ((300, 250), (-1, 5), (1, 5)):
        full, coded = _raised(SAMPLE, *args), _raised(short, *args)
        assert coded != full and len(coded) < len(full), coded
        assert messages.expand(coded, table) == full


def test_every_firmware_message_keeps_its_conversions(tmp_path):
    table = {}
    for _, path in firmware_files.board_files():
        compile(messages.shorten(path.read_text(), table), str(path), "exec")
    assert len(table) > 100
    for code, message in table.items():
        count = len(messages._SPEC.findall(message.replace("%%", "")))
        number = int(code[1:])
        values = ["v%d" % i for i in range(count)]
        line = "Error: " + (repr((number, *values)) if values else str(number))
        expanded = messages.expand(line, table)
        assert expanded != line and all(v in expanded for v in values), (line, expanded)
    messages.write_table(table, tmp_path / "messages.json")
    assert json.loads((tmp_path / "messages.json").read_text()) == table


def test_a_wrapped_message_and_an_old_code_expand():
    table = {"E3": "amount %d outside 1..%d", "E4": "no key", "E5": "%s: %s"}
    # A card's MicroPython prints an exception of one argument as that argument, of several
    # as their tuple, and one inside another's arguments as its repr.
    assert messages.expand("LimitExceeded: (3, 5, 4294967295)", table) == (
        "LimitExceeded: amount 5 outside 1..4294967295"
    )
    assert messages.expand("WrongState: 4", table) == "WrongState: no key"
    assert messages.expand("RecordError: (5, 'Certificate', TLVError(4,))", table) == (
        "RecordError: Certificate: TLVError: no key"
    )
    # The codes of builds before numbers.
    assert messages.expand("E3 1 2", table) == "amount 1 outside 1..2"


def test_an_unknown_code_is_left_alone():
    assert messages.expand("E99999 1 2", {}) == "E99999 1 2"
    assert messages.expand("X: (99999, 1, 2)", {}) == "X: (99999, 1, 2)"
    assert messages.expand("no code here", {"E1": "x %d"}) == "no code here"
