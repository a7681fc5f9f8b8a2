"""Reject CPython-only constructs in firmware/, so the core keeps running on every board.

The oldest MicroPython the firmware supports is named in docs/HARDWARE.md (OLDEST_MICROPYTHON
below); what it or any supported port lacks is banned here, with the reason printed beside each
finding. The check parses each file (it runs nothing) and exits 1 when it finds anything:

    python tools/check_portable.py [PATH ...]      (default: firmware/)

The portable core (firmware/purse) is held to the strictest rules: no I/O, only the modules
every port has. Board glue elsewhere in firmware/ may also use the board's own modules.
"""

import ast
import builtins
import sys
from pathlib import Path

OLDEST_MICROPYTHON = "1.22.0"

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"

# Modules every supported port provides (built in, or in every board's firmware), and that the
# core may use. The core reads no clock and no RNG, so time, os and random are absent.
CORE_MODULES = {
    "micropython",
    "hashlib",
    "binascii",
    "struct",
    "sys",
    "gc",
    "collections",
    "array",
}
# Board glue may also do I/O through the board's modules.
BOARD_MODULES = CORE_MODULES | {
    "os",
    "io",
    "time",
    "select",
    "errno",
    "machine",
    "network",
    "rp2",
    "esp32",
    "uctypes",
    "json",
    "ujson",
}
# Board glue may import the firmware's own top-level modules (cardfs, entropy, link ...).
FIRMWARE_MODULES = {path.stem for path in FIRMWARE.glob("*.py")}

# Calls on any object that some port lacks.
BANNED_METHODS = {
    "bit_length": "MicroPython's int has no bit_length(): use purse.compat.bit_length",
    "hexdigest": "MicroPython's hashlib has no hexdigest(): hexlify digest()",
    "removeprefix": "MicroPython's str has no removeprefix()",
    "removesuffix": "MicroPython's str has no removesuffix()",
}
# Names whose use in the core means I/O or ambient state.
CORE_BANNED_CALLS = {
    "print": "the core does no I/O: return values or raise; the board glue prints",
    "open": "the core does no I/O: the store backends outside purse/ touch files",
    "input": "the core does no I/O",
}


class Finding:
    def __init__(self, path, node, message):
        self.path = path
        self.line = getattr(node, "lineno", 0)
        self.message = message

    def __str__(self):
        return "%s:%d: %s" % (self.path, self.line, self.message)


class Checker(ast.NodeVisitor):
    def __init__(self, path, core):
        self.path = path
        self.core = core
        self.allowed = CORE_MODULES if core else BOARD_MODULES | FIRMWARE_MODULES
        self.findings = []

    def report(self, node, message):
        self.findings.append(Finding(self.path, node, message))

    def _check_module(self, node, name):
        top = name.split(".")[0]
        if top in ("purse",) or top in self.allowed:
            return
        where = "the portable core" if self.core else "board code"
        self.report(node, "import of %r: not available to %s on MicroPython" % (name, where))

    def visit_Import(self, node):
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node):
        if node.level == 0:
            self._check_module(node, node.module or "")
        self.generic_visit(node)

    def visit_Assert(self, node):
        self.report(node, "assert: vanishes under -O and in frozen builds; raise explicitly")

    def visit_JoinedStr(self, node):
        self.report(node, "f-string: %-formatting allocates less and works on every port")

    def visit_NamedExpr(self, node):
        self.report(node, "walrus operator: not in MicroPython %s" % OLDEST_MICROPYTHON)

    def visit_Match(self, node):
        self.report(node, "match statement: MicroPython has none")
        self.generic_visit(node)

    def visit_TryStar(self, node):
        self.report(node, "except*: MicroPython has no exception groups")
        self.generic_visit(node)

    def visit_arguments(self, node):
        if node.posonlyargs:
            self.report(node.posonlyargs[0], "positional-only parameters: MicroPython has none")
        self.generic_visit(node)

    def visit_ClassDef(self, node):
        for kw in node.keywords:
            if kw.arg == "metaclass":
                self.report(node, "metaclass: MicroPython has no metaclasses")
        for stmt in node.body:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else []
            for target in targets:
                if isinstance(target, ast.Name) and target.id == "__slots__":
                    self.report(stmt, "__slots__: silently ignored by MicroPython")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == "pow" and len(node.args) == 3 and _negative(node.args[1]):
                self.report(node, "pow(x, -e, m): MicroPython silently returns 0; use an inverse")
            if self.core and func.id in CORE_BANNED_CALLS:
                self.report(node, "%s(): %s" % (func.id, CORE_BANNED_CALLS[func.id]))
        elif isinstance(func, ast.Attribute):
            base = func.value
            if func.attr == "__init__" and isinstance(base, ast.Name) and base.id in dir(builtins):
                self.report(
                    node, "%s.__init__(self, ...): not on MicroPython; use super()" % base.id
                )
            if func.attr in BANNED_METHODS:
                self.report(node, "%s(): %s" % (func.attr, BANNED_METHODS[func.attr]))
            if func.attr in ("to_bytes", "from_bytes"):
                if any(kw.arg == "signed" for kw in node.keywords):
                    self.report(node, "%s(signed=...): not in MicroPython" % func.attr)
                if len(node.args) < 2:
                    self.report(node, "%s(): give byteorder as a positional argument" % func.attr)
        self.generic_visit(node)


def _negative(node):
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, int) and node.value < 0


def check_source(source, path="<source>", core=True):
    """Findings for one file's source text."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        return [Finding(path, exc, "syntax error: %s" % exc.msg)]
    checker = Checker(path, core)
    checker.visit(tree)
    return checker.findings


def check_tree(root=FIRMWARE):
    """Findings for every .py below root; files under firmware/purse get the core's rules."""
    core_dir = (FIRMWARE / "purse").resolve()
    findings = []
    for path in sorted(Path(root).resolve().rglob("*.py")):
        core = path == core_dir or core_dir in path.parents
        findings += check_source(path.read_text(), path, core)
    return findings


def main(argv):
    roots = [Path(a) for a in argv[1:]] or [FIRMWARE]
    findings = []
    for root in roots:
        findings += check_tree(root)
    for finding in findings:
        print(finding)
    print(
        "portability check (oldest MicroPython %s): %d finding(s)"
        % (OLDEST_MICROPYTHON, len(findings))
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
