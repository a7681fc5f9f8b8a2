"""The card build's short exception messages (icpurse.messages): every firmware message keeps
its % conversions, and a card's log line expands back to the message the source raises."""

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


def test_a_short_message_expands_to_the_full_one():
    table = {}
    short = messages.shorten(SAMPLE, table)
    assert len(table) == 2 and "exceeds" not in short and "'short'" in short
    for args in ((300, 250), (-1, 5)):
        full, coded = _raised(SAMPLE, *args), _raised(short, *args)
        assert coded != full and len(coded) < len(full)
        assert messages.expand(coded.strip("'"), table) == full.strip("'")


def test_every_firmware_message_keeps_its_conversions(tmp_path):
    table = {}
    for _, path in firmware_files.board_files():
        compile(messages.shorten(path.read_text(), table), str(path), "exec")
    assert len(table) > 100
    for code, message in table.items():
        values = ["v%d" % i for i in range(len(messages._SPEC.findall(message.replace("%%", ""))))]
        line = " ".join([code, *values])
        assert messages.expand(line, table) != line or not values
    messages.write_table(table, tmp_path / "messages.json")
    assert json.loads((tmp_path / "messages.json").read_text()) == table


def test_an_unknown_code_is_left_alone():
    assert messages.expand("E99999 1 2", {}) == "E99999 1 2"
    assert messages.expand("no code here", {"E1": "x %d"}) == "no code here"
