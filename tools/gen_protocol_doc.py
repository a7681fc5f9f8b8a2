"""Generate the tables and the worked example of docs/PROTOCOL.md from the code.

The numbers of the protocol live in firmware/purse/proto.py only; this tool copies them, with
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
sys.path.insert(0, str(ROOT / "tests" / "core"))

_CONST = re.compile(r"^([A-Z][A-Z0-9_]*) = const\((0x[0-9A-Fa-f]+|\d+)\)\s*(?:#\s*(.*))?$")
_BLOCK = re.compile(r"(<!-- generated:(\w+) -->\n)(.*?)(<!-- end -->)", re.S)


def _constants(prefix):
    """[(name, value text, comment)] of proto.py's const() names with `prefix`, in file order."""
    rows = []
    for line in PROTO.read_text().splitlines():
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
