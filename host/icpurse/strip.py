"""Host-only definitions out of the card build, and empty classes made without a body.

A card holds every module it imports in its heap, and on the 64-bit Unix port each function
costs some 130 bytes before its first instruction (its raw code, function object and bytecode
each take a 32-byte block or more, and its name a qstr), a class a few hundred. Some of the
core's definitions serve only the host, the logger or the tests: a record's builder for an
authority that signs it (a card only parses a certificate), a log record's parser for the
logger, the store's in-memory backend. Such a definition is decorated `@host_only`
(purse.compat, where the decorator returns the definition as it is), and the card build leaves
it out: the decorated function, method or class, the decorator's import, and purse.compat's
own definition of it. A card module that still names `host_only` after that fails the build.
Whether a card ever calls what was left out is what the tests of the compiled firmware (the
emulated cards and boards) show; the source, the host and the tests on both interpreters keep
everything.

A class whose body is only its docstring (the core's exceptions, nearly all) becomes
`Name = type("Name", (bases,), {})` in the card build: the same class to every `raise`,
`except` and isinstance, without a class body's code, which the heap keeps for good (a class
body is a function of its module), and the `__module__` and `__qualname__` it records: some
30 bytes of a 64-bit heap each. (A class with methods made the same way saves nothing: its
methods' code moves into the module's, which the heap keeps as well.)
"""

import ast

DECORATOR = "host_only"


class StripError(Exception):
    """A card module names `host_only` other than as a decorator."""


def _marked(node):
    return isinstance(node, (ast.FunctionDef, ast.ClassDef)) and any(
        isinstance(d, ast.Name) and d.id == DECORATOR for d in node.decorator_list
    )


class _Stripper(ast.NodeTransformer):
    def __init__(self):
        self.left_out = []

    def _body(self, body):
        kept = []
        for stmt in body:
            if _marked(stmt):
                self.left_out.append(stmt.name)
                continue
            if isinstance(stmt, ast.FunctionDef) and stmt.name == DECORATOR:
                continue  # purse.compat's own definition.
            kept.append(self.visit(stmt))
        return kept or [ast.Pass()]

    def visit_Module(self, node):
        node.body = self._body(node.body)
        return node

    def visit_ClassDef(self, node):
        node.body = self._body(node.body)
        if _empty(node):
            made = ast.Call(
                ast.Name("type", ast.Load()),
                [
                    ast.Constant(node.name),
                    ast.Tuple(list(node.bases), ast.Load()),
                    ast.Dict([], []),
                ],
                [],
            )
            return ast.copy_location(ast.Assign([ast.Name(node.name, ast.Store())], made), node)
        return node

    def visit_ImportFrom(self, node):
        kept = [a for a in node.names if a.name != DECORATOR]
        if not kept:
            return ast.copy_location(ast.Pass(), node)
        node.names = kept
        return node


def _empty(node):
    """Whether a class has nothing but a docstring or `pass` in its body, and no decorator,
    keyword (a metaclass) or base that is not a plain name or attribute."""
    if node.decorator_list or node.keywords:
        return False
    if not all(isinstance(b, (ast.Name, ast.Attribute)) for b in node.bases):
        return False
    return all(
        isinstance(stmt, ast.Pass)
        or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        for stmt in node.body
    )


def strip(tree, where="<module>"):
    """(tree, names left out): the module without its `@host_only` definitions."""
    stripper = _Stripper()
    tree = stripper.visit(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == DECORATOR:
            raise StripError("%s line %d: %s used other than as a decorator" % (
                where, node.lineno, DECORATOR))  # fmt: skip
    return ast.fix_missing_locations(tree), stripper.left_out
