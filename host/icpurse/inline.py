"""Constants out of the card build's globals.

mpy-cross replaces a private name declared `_NAME = const(42)` by its value and keeps no
global for it. A public one (`NAME = const(42)`) it inlines in its own module only, and keeps
in the module's globals, since another module may read it; and another module's `proto.NAME`
is a global and an attribute lookup at run time. purse.proto is nearly all such names: a card
that imports it held a dictionary of about 170 entries and their qstrs, some 4 KB of a 64-bit
heap, for numbers that never change. A private name bound to an integer without const()
(`_U32 = proto.U32_SIZE`) is a global too.

So the card build, as it does for exception messages (icpurse.messages), rewrites the source
before mpy-cross:
- every public module-level constant of a firmware module (a `const()` value, or a name bound
  once to a bytes literal, such as purse.proto's domain strings) is replaced by its value in
  every firmware module that reads it (as `mod.NAME` after `from pkg import mod`, as `NAME`
  after `from mod import NAME`, or in its own module), and its declaration is left out;
- a private module-level name bound once to such a value, or to an integer expression, and
  read by no other module, is replaced by its value and left out too;
- the module's other private variables are renamed `_0`, `_1`...: each distinct name is a
  qstr a card interns for good, and these few every module shares (_rename_private).
Integers are inlined only if they are small ints on a 32-bit board (p256's 256-bit constants
would be an object at each use), bytes only up to MAX_BYTES (each module that reads one holds
its own copy, as mpy-cross keeps one object per module for equal constants).

purse.proto, whose numbers code running beside the card build reads (a benchmark's script, a
REPL session), answers for its left-out constants through a module `__getattr__` (PEP 562,
which every MicroPython port has) from a generated module, `purse._proto_consts`, that the card
itself never loads. The source, the host and the tests on both interpreters stay as they are;
only the compiled card build changes, and it runs faster too (a constant instead of two
lookups).
"""

import ast

# MicroPython's small ints on a 32-bit board: 31-bit signed. Larger values are heap objects.
_SMALL = 1 << 30
# The longest bytes constant inlined.
MAX_BYTES = 48
# The modules whose left-out constants a generated module still answers for.
FALLBACK = ("purse.proto",)


class InlineError(Exception):
    """A module rebinds a constant, or assigns to another module's one."""


def module_name(source_name):
    """The module a board imports from `source_name`: "purse/proto.py" -> "purse.proto"."""
    parts = source_name[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def consts_module(module):
    """(module name, source name) of the generated constants of `module`."""
    package, _, name = module.rpartition(".")
    generated = "_%s_consts" % name
    full = package + "." + generated if package else generated
    return full, full.replace(".", "/") + ".py"


def _inlinable(value):
    if isinstance(value, bytes):
        return len(value) <= MAX_BYTES
    return isinstance(value, int) and not isinstance(value, bool) and -_SMALL <= value < _SMALL


def _evaluate(node, known):
    """The value of a constant expression over literals and the names of `known` if it is one
    to inline (see _inlinable), else None."""
    try:
        code = compile(ast.Expression(node), "<const>", "eval")
        value = eval(code, {"__builtins__": {}}, dict(known))  # noqa: S307 - firmware's own
    except Exception:  # noqa: BLE001 - anything not computable here is simply not inlined
        return None
    return value if _inlinable(value) else None


def _assignment(stmt):
    """(name, value expression, whether through const()) of a top-level `NAME = ...`."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
        return None
    target, value = stmt.targets[0], stmt.value
    if not isinstance(target, ast.Name):
        return None
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "const"
        and len(value.args) == 1
        and not value.keywords
    ):
        return target.id, value.args[0], True
    return target.id, value, False


def collect(trees):
    """{module: {NAME: value}} of the public constants of `trees` ({module: AST}): const()
    values, and names bound once to a bytes literal."""
    table = {}
    for module, tree in trees.items():
        known = {}
        public = {}
        for stmt in tree.body:
            found = _assignment(stmt)
            if found is None:
                continue
            name, expr, through_const = found
            literal = isinstance(expr, ast.Constant) and isinstance(expr.value, bytes)
            if not (through_const or (literal and _bindings(tree, name) == 1)):
                continue
            value = _evaluate(expr, known)
            if value is None:
                continue
            known[name] = value
            if not name.startswith("_"):
                public[name] = value
        if public:
            table[module] = public
    return table


def foreign_reads(trees):
    """{module: names} that other modules of `trees` read from it (by import or attribute)."""
    reads = {}
    for tree in trees.values():
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = node.module + "." + alias.name
                    if full in trees:
                        aliases[alias.asname or alias.name] = full
                    else:
                        reads.setdefault(node.module, set()).add(alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                reads.setdefault(aliases[node.value.id], set()).add(node.attr)
    return reads


def _bindings(tree, name, imports=True):
    """How many times the module binds `name` (assignments, arguments, definitions, and
    imports unless `imports` is false)."""
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            count += 1
        elif isinstance(node, ast.arg) and node.arg == name:
            count += 1
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            count += 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            count += 1
        elif imports and isinstance(node, ast.alias) and (node.asname or node.name) == name:
            count += 1
    return count


class _Inliner(ast.NodeTransformer):
    def __init__(self, module, table, where):
        self.module = module
        self.table = table
        self.where = where
        self.modules = {}  # local name -> module of the table it stands for
        self.names = {}  # local name -> value (own constants, `from mod import NAME`)
        self.dropped = set()  # own top-level names whose declaration goes

    def fail(self, node, what):
        raise InlineError("%s line %d: %s" % (self.where, getattr(node, "lineno", 0), what))

    def prepare(self, tree):
        own = self.table.get(self.module, {})
        for name in own:
            if _bindings(tree, name) != 1:
                self.fail(tree, "the constant %r is bound again" % name)
        self.names.update(own)
        self.dropped.update(own)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    full = node.module + "." + alias.name
                    local = alias.asname or alias.name
                    if full in self.table:
                        self.modules[local] = full
                    elif alias.name in self.table.get(node.module, {}):
                        self.names[local] = self.table[node.module][alias.name]
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name in self.table:
                        self.modules[alias.asname] = alias.name
        for local in list(self.modules) + [n for n in self.names if n not in own]:
            if _bindings(tree, local, imports=False):
                self.fail(tree, "%r is bound other than by its import" % local)

    def private_constants(self, tree, foreign):
        """After the first pass: private names bound once to what is now an integer."""
        known = {}
        for stmt in tree.body:
            found = _assignment(stmt)
            if found is None:
                continue
            name, expr, _ = found
            if not name.startswith("_") or name.startswith("__") or name in foreign:
                continue
            value = _evaluate(expr, known)
            if value is None or _bindings(tree, name) != 1:
                continue
            known[name] = value
        self.names = known
        self.modules = {}
        self.dropped = set(known)
        return bool(known)

    def visit_Module(self, node):
        body = []
        for stmt in node.body:
            found = _assignment(stmt)
            if found is not None and found[0] in self.dropped:
                continue  # The declaration goes: every reader has its value.
            body.append(self.visit(stmt))
        node.body = body or [ast.Pass()]
        return node

    def visit_ImportFrom(self, node):
        if node.module and not node.level and node.module in self.table:
            consts = self.table[node.module]
            kept = [a for a in node.names if a.name not in consts]
            if not kept:
                return ast.copy_location(ast.Pass(), node)
            node.names = kept
        return node

    def visit_Attribute(self, node):
        value = node.value
        if isinstance(value, ast.Name) and value.id in self.modules:
            consts = self.table[self.modules[value.id]]
            if node.attr in consts:
                if not isinstance(node.ctx, ast.Load):
                    self.fail(node, "%s.%s is assigned" % (value.id, node.attr))
                return ast.copy_location(ast.Constant(consts[node.attr]), node)
            return node
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.names and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.names[node.id]), node)
        return node


def _fallback(module):
    """The module `__getattr__` that finds a left-out constant in the generated module."""
    full, _ = consts_module(module)
    package, _, name = full.rpartition(".")
    load = "from %s import %s" % (package, name) if package else "import %s" % name
    source = "def __getattr__(name):\n    %s\n    return getattr(%s, name)\n" % (load, name)
    return ast.parse(source).body


def inline(tree, module, table, foreign=None, where=None):
    """The module's AST with the constants of `table` (see collect) inlined, its own public
    ones left out (found through `__getattr__`, see consts_source), its private integer
    globals that no module of `foreign` (see foreign_reads) reads inlined as well, and its
    other private variables renamed to short names (_rename_private)."""
    where = where or module
    first = _Inliner(module, table, where)
    first.prepare(tree)
    tree = first.visit(tree)
    if module in table and module in FALLBACK:
        tree.body.extend(_fallback(module))
    second = _Inliner(module, {}, where)
    if second.private_constants(tree, (foreign or {}).get(module, set())):
        tree = second.visit(tree)
    _rename_private(tree, (foreign or {}).get(module, set()))
    return ast.fix_missing_locations(tree)


def _rename_private(tree, foreign):
    """Rename the module's private variables (module-level names with one leading underscore
    that an assignment binds, not a def or class, which tracebacks name) to `_0`, `_1`...: each
    distinct name is a qstr a card interns for good, and these short ones every module shares.
    A name some other module reads (`foreign`), or that the module also uses as an attribute,
    a keyword, an imported name or a string, keeps its name."""
    candidates = []
    for stmt in tree.body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else []
        if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
            targets = [stmt.target]
        for target in targets:
            for node in ast.walk(target):
                if isinstance(node, ast.Name) and _private(node.id) and node.id not in foreign:
                    if node.id not in candidates:
                        candidates.append(node.id)
    if not candidates:
        return
    taken = set()
    kept = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            kept.add(node.name)
        elif isinstance(node, ast.Attribute):
            kept.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            kept.add(node.arg)
        elif isinstance(node, ast.alias):
            kept.update((node.name, node.asname))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            kept.add(node.value)
        elif isinstance(node, ast.Name):
            taken.add(node.id)
        elif isinstance(node, ast.arg):
            taken.add(node.arg)
    names = {}
    n = 0
    for name in candidates:
        if name in kept:
            continue
        while "_%d" % n in taken or "_%d" % n in kept:
            n += 1
        names[name] = "_%d" % n
        n += 1
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in names:
            node.id = names[node.id]
        elif isinstance(node, ast.arg) and node.arg in names:
            node.arg = names[node.arg]
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            node.names = [names.get(name, name) for name in node.names]


def _private(name):
    return name.startswith("_") and not name.startswith("__")


def consts_source(module, table):
    """The source of the generated module of `module`'s left-out constants."""
    lines = ['"""The constants the card build of %s inlined (icpurse.inline)."""' % module, ""]
    lines += ["%s = %r" % item for item in sorted(table[module].items())]
    return "\n".join(lines) + "\n"
