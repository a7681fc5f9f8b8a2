"""Generate the tables and the worked example of docs/PROTOCOL.md from the code.

The numbers of the protocol live in firmware/purse/proto.py only (and the card's private
state-file tags in firmware/purse/wallet/state.py); this tool copies them, with
the comment beside each, into the marked blocks of the document, and writes the worked example
from tests/core/_example.py. tests/host/test_protocol_doc.py fails when the document and the
code disagree, so the two cannot drift apart.

    python tools/gen_protocol_doc.py           # rewrite the generated blocks in place
    python tools/gen_protocol_doc.py --check   # exit 1 if the document is out of date
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "PROTOCOL.md"
PROTO = ROOT / "firmware" / "purse" / "proto.py"
# The card's state-file layout is private to the card and declared where it is used.
STATE = ROOT / "firmware" / "purse" / "wallet" / "state.py"
sys.path.insert(0, str(ROOT / "tests" / "core"))

_CONST = re.compile(r"^(_?[A-Z][A-Z0-9_]*) = const\((0x[0-9A-Fa-f]+|\d+)\)\s*(?:#\s*(.*))?$")
_BLOCK = re.compile(r"(<!-- generated:(\w+) -->\n)(.*?)(<!-- end -->)", re.S)


def _constants(prefix, source=PROTO):
    """[(name, value text, comment)] of the const() names with `prefix` in `source` (proto.py
    by default), in file order."""
    rows = []
    for line in source.read_text().splitlines():
        match = _CONST.match(line)
        if match and match.group(1).startswith(prefix):
            rows.append((match.group(1), match.group(2), match.group(3) or ""))
    return rows


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render_tags():
    rows = [("`%s`" % v.upper().replace("0X", ""), n[4:], c) for n, v, c in _constants("TAG_")]
    return _table(("tag", "name", "meaning"), rows)


def render_status():
    rows = [("`%04X`" % int(v, 16), n[3:], c) for n, v, c in _constants("SW_")]
    return _table(("SW", "name", "meaning"), rows)


def render_instructions():
    rows = [("`%02X`" % int(v, 16), n[4:], c) for n, v, c in _constants("INS_")]
    return _table(("INS", "command", "state and order"), rows)


def render_store():
    rows = [
        ("`%s`" % v.upper().replace("0X", ""), n[4:], c) for n, v, c in _constants("_ST_", STATE)
    ]
    return _table(("tag", "field", "content"), rows)


def render_apdus():
    """The APDU exchange of provisioning two cards, a value load and one transfer."""
    from _cards import World

    world = World()
    a = world.new_card(b"A", 10000)
    b = world.new_card(b"B")
    marks = (len(a.exchanges), len(b.exchanges))
    world.transfer(a, b, 1250)
    record = b.client.read_outbox(0)
    b.client.take_receipt(world.receipt_for(record))
    lines = []
    for title, card, start, end in (
        ("Card A: provisioning and a value load of 10000", a, 0, marks[0]),
        ("Card B: provisioning (and its first voucher, for w = 0)", b, 0, marks[1]),
        ("Transfer of 1250 from A to B, log record, receipt", None, 0, 0),
    ):
        lines.append("%s:\n\n```" % title)
        if card is None:
            steps = _interleave(a.exchanges[marks[0] :], b.exchanges[marks[1] :])
        else:
            steps = [("A" if card is a else "B", e) for e in card.exchanges[start:end]]
        for who, (command, response) in steps:
            lines.append("%s> %s" % (who, command.hex().upper()))
            lines.append("%s< %s" % (who, response.hex().upper()))
        lines.append("```\n")
    return "\n".join(lines)


def _interleave(a_steps, b_steps):
    """The transfer's exchanges in the order the terminal made them: B, A, then B."""
    order = []
    b_iter = iter(b_steps)
    order.append(("B", next(b_iter)))  # MAKE CHALLENGE
    order += [("A", e) for e in a_steps]  # PAY and its GET RESPONSEs
    order += [("B", e) for e in b_iter]  # ACCEPT, READ OUTBOX, TAKE RECEIPT
    return order


def _hex_lines(data):
    h = data.hex().upper()
    return "\n".join(h[i : i + 64] for i in range(0, len(h), 64))


def render_example():
    from _example import Example

    parts = []
    for name, data in Example().transcript():
        parts.append("%s (%d bytes):\n\n```\n%s\n```\n" % (name, len(data), _hex_lines(data)))
    return "\n".join(parts)


RENDERERS = {
    "tags": render_tags,
    "status": render_status,
    "instructions": render_instructions,
    "example": render_example,
    "store": render_store,
    "apdus": render_apdus,
}


def generate(text):
    """The document text with every generated block rewritten from the code."""

    def fill(match):
        return match.group(1) + RENDERERS[match.group(2)]() + match.group(4)

    return _BLOCK.sub(fill, text)


def blocks(text):
    """{block name: content} of the generated blocks in a document text."""
    return {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}


def main(argv):
    text = DOC.read_text()
    new = generate(text)
    if "--check" in argv:
        if new != text:
            print("docs/PROTOCOL.md is out of date: run python tools/gen_protocol_doc.py")
            return 1
        print("docs/PROTOCOL.md matches the code")
        return 0
    DOC.write_text(new)
    print("wrote %s (%d generated blocks)" % (DOC, len(blocks(new))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
