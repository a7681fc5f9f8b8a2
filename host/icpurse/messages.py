"""Exception messages out of the card build.

On MicroPython every string literal longer than ten characters becomes a str object in the
heap when its .mpy file is imported — about 80 bytes each on the 64-bit Unix port — and a
shorter one is a qstr, interned for good in the qstr pool (its characters and a pool entry);
the core's exception messages were over 13 KB of them, for text a card never shows anyone (an
exception becomes a status word; only the card's local log sees it). So the card build
replaces the literal message of each `raise` by a number, and the values its % conversions
format by arguments of their own: `raise LimitExceeded("amount %d outside 1..%d" % (x, m))`
becomes `raise LimitExceeded(40, x, m)`, whose number and small ints cost the heap nothing.
It writes the table code -> message beside the compiled files (`messages.json`, codes written
"E40"), with which `expand` turns a card's log line (`LimitExceeded: (40, 5, 4294967295)`, or
`Locked: 12` without values) back into words. The source, the host and the tests keep the
full messages; only the compiled card build changes.
"""

import ast
import json
import re

# A %-conversion of printf-style formatting (`%%` is a literal percent and takes no argument).
_SPEC = re.compile(r"%[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")
# A message with values, as MicroPython prints the arguments: "(40, 5, 4294967295)"; one without,
# a lone number after the exception's name (or the wrapping message's colon); and the codes of
# builds before numbers, "E40 5 4294967295".
_TUPLE = re.compile(r"\((\d+), ")
_BARE = re.compile(r"(^|: )(\d+)$")
_REPR = re.compile(r"(\w+)(\(.*\))$")
_LEGACY = re.compile(r"(.*?)\b(E\d+)((?: \S+)*)$")


class Shortener(ast.NodeTransformer):
    """Replace the literal messages of `raise E("...")` and `raise E("..." % args)`."""

    def __init__(self, table):
        self.table = table

    def visit_Raise(self, node):
        self.generic_visit(node)
        call = node.exc
        if not (isinstance(call, ast.Call) and call.args):
            return node
        arg = call.args[0]
        values = None
        literal = arg
        if isinstance(arg, ast.BinOp) and isinstance(arg.op, ast.Mod):
            literal = arg.left
            right = arg.right
            values = list(right.elts) if isinstance(right, ast.Tuple) else [right]
        if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
            specs = [s for s in _SPEC.findall(literal.value) if s != "%%"]
            if values is not None and len(values) != len(specs):
                return node  # A tuple formatted whole (one %s of a tuple value): left as it is.
            code = len(self.table)
            self.table["E%d" % code] = literal.value
            call.args = [ast.Constant(code), *(values or []), *call.args[1:]]
        return node


def shorten(source, table):
    """The source with its raise messages replaced; `table` (a dict) gains code -> message."""
    tree = Shortener(table).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def write_table(table, path):
    path.write_text(json.dumps(table, indent=0, sort_keys=True) + "\n")


def expand(line, table):
    """A card's log line with its message code (and values) written out in words."""
    for match in _TUPLE.finditer(line):
        end = _closing(line, match.start())
        if end is None:
            continue
        items = _items(line[match.start() + 1 : end])
        words = _format(table.get("E%d" % int(items[0])), [_value(v, table) for v in items[1:]])
        if words is not None:
            return line[: match.start()] + words + line[end + 1 :]
    match = _BARE.search(line)
    if match is not None:
        words = _format(table.get("E" + match.group(2)), ())
        if words is not None:
            return line[: match.start(2)] + words
    return _legacy(line, table)


def _items(text):
    """The top-level elements of a tuple's repr without its parentheses, as text."""
    items = []
    start = 0
    depth = 0
    quote = None
    for i, c in enumerate(text):
        if quote:
            if c == quote and text[i - 1] != "\\":
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(text[start:i].strip())
            start = i + 1
    items.append(text[start:].strip())
    return [item for item in items if item]


def _value(text, table):
    """A logged value: a literal (a number, a string, bytes), else its text expanded (the repr
    of a wrapped exception, `TLVError(3, 1, 2)`)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    wrapped = _REPR.match(text)
    if wrapped is not None:
        args = wrapped.group(2)
        if args.endswith(",)"):  # One argument: MicroPython's repr of Name(12,).
            args = args[:-2] + ")"
        return "%s: %s" % (wrapped.group(1), expand(args if "," in args else args[1:-1], table))
    return expand(text, table)


def _closing(line, start):
    """The index of the parenthesis that closes the one at `start`, or None."""
    depth = 0
    quote = None
    for i in range(start, len(line)):
        c = line[i]
        if quote:
            if c == "\\":
                continue
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _format(message, values):
    """`message` with `values` in its conversions, or None if they do not fit it."""
    if message is None:
        return None
    specs = [s for s in _SPEC.findall(message) if s != "%%"]
    if len(specs) != len(values):
        return None
    try:
        return message % tuple(values)
    except (TypeError, ValueError):
        return _fill(message, [str(v) for v in values])


def _legacy(line, table):
    """Codes of builds before numbers: "E40 5 4294967295"."""
    match = _LEGACY.match(line)
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
