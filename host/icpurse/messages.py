"""Exception messages out of the card build.

On MicroPython every string literal longer than ten characters becomes a str object in the
heap when its .mpy file is imported — about 80 bytes each on the 64-bit Unix port — and the
core's exception messages are almost all of them: over 13 KB of a card's heap, for text a card
never shows anyone (an exception becomes a status word; only the card's local log sees it). So
the card build replaces each literal message of a `raise` by a short code that keeps the
message's % conversions, such as "E42 %d %d", and writes the table code -> message beside the
compiled files (`messages.json`), with which `expand` turns a card's log line back into words.
The source, the host and the tests keep the full messages; only the compiled card build
changes.
"""

import ast
import json
import re

# A %-conversion of printf-style formatting (`%%` is a literal percent and takes no argument).
_SPEC = re.compile(r"%[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")
# Strings up to this length are interned as qstrs by MicroPython's parser: they cost no object.
_INTERNED = 10


class Shortener(ast.NodeTransformer):
    """Replace long literal messages of `raise E("...")` and `raise E("..." % args)`."""

    def __init__(self, table):
        self.table = table

    def visit_Raise(self, node):
        self.generic_visit(node)
        call = node.exc
        if not (isinstance(call, ast.Call) and call.args):
            return node
        arg = call.args[0]
        literal = arg.left if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod) else arg
        if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
            if len(literal.value) > _INTERNED:
                code = "E%d" % len(self.table)
                self.table[code] = literal.value
                specs = [s for s in _SPEC.findall(literal.value) if s != "%%"]
                literal.value = " ".join([code, *specs])
        return node


def shorten(source, table):
    """The source with its raise messages replaced; `table` (a dict) gains code -> message."""
    tree = Shortener(table).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def write_table(table, path):
    path.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")


def expand(line, table):
    """A card's log line with its message code (E42 and its values) written out in words."""
    match = re.match(r"(.*?)\b(E\d+)((?: \S+)*)$", line)
    if match is None or match.group(2) not in table:
        return line
    message = table[match.group(2)]
    values = match.group(3).split()
    specs = [s for s in _SPEC.findall(message) if s != "%%"]
    if len(values) != len(specs):
        return line
    return match.group(1) + _fill(message, values)


def _fill(message, values):
    """`message` with its conversions replaced, in order, by the logged values (as text)."""
    out = []
    pos = 0
    values = iter(values)
    for m in _SPEC.finditer(message):
        out.append(message[pos : m.start()])
        out.append("%" if m.group() == "%%" else next(values))
        pos = m.end()
    out.append(message[pos:])
    return "".join(out)
