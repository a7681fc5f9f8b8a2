"""Where the wallet firmware's files are: the one place that finds them, in a checkout and in
an installed icpurse alike.

The firmware is two packages. The board glue (main.py, wallet_app.py, link.py, cardfs.py ...)
and the board settings (boards/*.json) are the package `icpurse.firmware`; the portable core
is the package `purse`, the name it has on a board's flash too. pyproject.toml maps both onto
the repository's firmware/ directory (firmware/purse is the core), so in a checkout (the
editable install) importlib.resources finds them there: the board, the emulator and the host
run the same files, never a copy. In an installed wheel they are icpurse/firmware/ and purse/
in site-packages.

A board holds one tree: the glue at its root, the core in purse/ beside it. `board_files()`
lists that tree from wherever the two packages are; what needs it as one directory (mpy-cross's
output, the files `icpurse flash` copies) composes it from that list.
"""

from importlib.resources import files
from pathlib import Path

GLUE_PACKAGE = "icpurse.firmware"
CORE_PACKAGE = "purse"
# In the glue package but not firmware: the package's own __init__.py never goes to a board.
NOT_ON_BOARD = frozenset({"__init__.py"})


def _directory(package):
    root = files(package)
    if not isinstance(root, Path):
        # A zip import or another loader without files on disk: the emulator, mpy-cross and
        # mpremote all need real files.
        raise RuntimeError("the package %s is not installed as files on disk" % package)
    return root.resolve()


def glue_dir():
    """The directory of the board glue and boards/ (a checkout's firmware/)."""
    return _directory(GLUE_PACKAGE)


def core_dir():
    """The directory of the core package `purse` (a checkout's firmware/purse)."""
    return _directory(CORE_PACKAGE)


def core_root():
    """A directory from which `import purse` finds the core (to put first on a path)."""
    return core_dir().parent


def main_py():
    """The wallet's entry point, firmware/main.py."""
    return glue_dir() / "main.py"


def boards_dir():
    """The board settings, firmware/boards/*.json."""
    return glue_dir() / "boards"


def boards():
    """The names of the boards `icpurse flash --board` knows: one settings file each."""
    return sorted(p.stem for p in boards_dir().glob("*.json"))


def board_files():
    """[(path on the board, file)] of every module of the firmware, sorted by the path on the
    board: the glue at the root, the core under purse/."""
    glue, core = glue_dir(), core_dir()
    out = [(p.name, p) for p in glue.glob("*.py") if p.name not in NOT_ON_BOARD]
    out += [("purse/" + p.relative_to(core).as_posix(), p) for p in core.rglob("*.py")]
    return sorted(out)


def source_tree():
    """The one directory that holds the firmware as a board does (the glue at its root and the
    core in purse/), when there is one: a checkout's firmware/. None in an installed wheel,
    where the two packages lie apart."""
    glue = glue_dir()
    return glue if (glue / "purse").resolve() == core_dir() else None
