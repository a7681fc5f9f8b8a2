"""`icpurse bench firmware`: the wallet's flash footprint and what a card holds in its heap.

For each part of firmware/ it prints the bytes of .py source and of the .mpy files `icpurse
flash --mpy` copies (mpy-cross -O3, short messages), the files a board holds, and the heap a
freshly booted card uses on the MicroPython Unix port (asked over its link with the `mem?`
ping), so a change that grows the firmware shows here before it breaks a heap target.
"""

import tempfile
from pathlib import Path

from icpurse import firmware_files
from icpurse.emulator import DEFAULT_HEAP, runtime
from icpurse.emulator.card import EmulatedCard
from icpurse.progress import progress
from purse import proto

GROUPS = (
    ("board glue (main, wallet_app, link, ...)", lambda rel: "/" not in rel),
    ("purse core (codecs, applet, store)", lambda rel: rel.count("/") == 1),
    ("purse/crypto", lambda rel: rel.startswith("purse/crypto/")),
    ("purse/records", lambda rel: rel.startswith("purse/records/")),
    ("purse/wallet", lambda rel: rel.startswith("purse/wallet/")),
    ("board settings (boards/*.json)", lambda rel: rel.startswith("boards/")),
)


def _sizes(root, suffixes):
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in suffixes:
            out[path.relative_to(root).with_suffix("").as_posix()] = path.stat().st_size
    return out


def _source_sizes():
    """{name without suffix: bytes} of the firmware's modules and boards/*.json."""
    out = {name[: -len(".py")]: path.stat().st_size for name, path in firmware_files.board_files()}
    for path in firmware_files.boards_dir().glob("*.json"):
        out["boards/" + path.stem] = path.stat().st_size
    return out


def run(args):
    progress("compiling firmware/ with mpy-cross (-O3, short messages)")
    compiled = runtime.compiled_firmware()
    source = _source_sizes()
    mpy = _sizes(compiled, (".mpy", ".py"))
    print("%-42s %8s %10s %10s" % ("part of firmware/", "files", ".py bytes", ".mpy bytes"))
    print("-" * 73)
    for name, member in GROUPS:
        names = [n for n in source if member(n)]
        py_total = sum(source[n] for n in names)
        mpy_total = sum(mpy.get(n, 0) for n in names if not n.startswith("boards/"))
        print("%-42s %8d %10d %10s" % (name, len(names), py_total, mpy_total or "-"))
    table = compiled / "messages.json"
    print("-" * 73)
    print(
        "%-42s %8d %10d %10d"
        % ("total (the .mpy build adds messages.json)", len(source), sum(source.values()),
           sum(mpy.values()) + table.stat().st_size)
    )  # fmt: skip
    print("messages.json (card message codes -> words): %d bytes" % table.stat().st_size)
    progress("booting an emulated card (MicroPython Unix port) to read its heap")
    with tempfile.TemporaryDirectory() as tmp:
        card = EmulatedCard(Path(tmp) / "card", runtime="micropython")
        with card:
            used, free = card.link.ping(proto.MEMORY_QUERY).decode().split()
    print(
        "heap of a card right after boot (gc.mem_alloc, %s heap): %s bytes used, %s free"
        % (DEFAULT_HEAP, used, free)
    )
    print(
        "the smallest heap for a transfer: icpurse bench transfer (targets: classic profile"
        " 128K, fast profile 192K)"
    )
    return 0
