"""The generator's tables as a card holds them (purse/crypto/gtables.mpy or .py): found and
loaded by the emulator's cards, copied by every build, and never used when the file is damaged.

tests/core/test_gtables.py checks the bytes and the fallback inside one interpreter; here the
real files are damaged in a copy of the firmware, as flash wear or a bad copy would, and a
separate interpreter signs and verifies with what it then has.
"""

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mp_support import compiled_firmware, need, run_micropython

from icpurse import firmware_files, mpycompile
from purse.crypto import gtables

ROOT = Path(__file__).resolve().parent.parent.parent
GEN = ROOT / "tools" / "gen_tables.py"
MPY = "purse/crypto/gtables.mpy"
SOURCE = "purse/crypto/gtables.py"

# Gets the generator's tables with the firmware in argv[1] on the path and prints whether they
# were loaded or built (building costs thousands of field multiplications, loading none), then
# signs and verifies RFC 6979 A.2.5's "sample" with them.
SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from purse.crypto import ecdsa, p256, tables
p256.reset_counters()
tables.generator_comb()
tables.generator_wnaf()
built = p256.counters()[0] > 0
X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
R = 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
S = 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8
if ecdsa.sign(X, b"sample") != (R, S):
    raise SystemExit("wrong signature")
key = ecdsa.PublicKey(*ecdsa.public_point(X))
ecdsa.verify(key, b"sample", R, S)
ecdsa.verify(key.precompute(), b"sample", R, S)
try:
    ecdsa.verify(key, b"sample", R, S + 1)
except Exception:
    pass
else:
    raise SystemExit("a wrong signature verified")
print("built" if built else "loaded")
"""


def _run(interpreter, firmware, tmp_path):
    script = tmp_path / "sign_and_verify.py"
    script.write_text(SCRIPT)
    if interpreter == "micropython":
        done = run_micropython([str(script), str(firmware)], heap="256K", timeout=120)
    else:
        done = subprocess.run(
            [sys.executable, "-I", str(script), str(firmware)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def _copy(firmware, tmp_path):
    out = tmp_path / "firmware"
    shutil.copytree(firmware, out, ignore=shutil.ignore_patterns("__pycache__"))
    return out


def _flip_in_comb(data):
    """`data` with one bit of the comb table's bytes changed, wherever the file holds them."""
    at = data.index(gtables.COMB[:64]) + 4000
    return data[:at] + bytes((data[at] ^ 0x10,)) + data[at + 1 :]


def _change_a_digit(text):
    """gtables.py's text with the first escape of the comb's 250th line, \\xNN, ending in
    another hex digit: one byte of the table changed, the source still valid."""
    lines = text.split("\n")
    at = lines.index("COMB = (") + 250
    assert lines[at].startswith('    b"\\x')
    old = lines[at][9]
    lines[at] = lines[at][:9] + ("0" if old != "0" else "1") + lines[at][10:]
    return "\n".join(lines)


def test_the_emulators_cards_load_the_tables_they_are_built_with(tmp_path):
    """The build the emulated MicroPython cards run holds gtables.mpy and loads it; CPython
    cards run firmware/ itself."""
    compiled = Path(compiled_firmware())
    assert (compiled / MPY).exists()
    assert _run("micropython", compiled, tmp_path) == "loaded"
    assert _run("cpython", firmware_files.source_tree(), tmp_path) == "loaded"
    assert _run("micropython", firmware_files.source_tree(), tmp_path) == "loaded"


def test_every_build_carries_the_tables(tmp_path):
    """board_files() is what `icpurse flash` copies as source and what mpycompile (hence
    `icpurse flash --mpy`, the emulator and `icpurse bench firmware`) compiles."""
    assert (SOURCE, firmware_files.core_dir() / "crypto" / "gtables.py") in (
        firmware_files.board_files()
    )
    assert not mpycompile.compile_firmware(tmp_path / "mpy")
    assert (tmp_path / "mpy" / MPY).stat().st_size > len(gtables.COMB) + len(gtables.WNAF)


@pytest.mark.parametrize(
    "damage",
    [
        "a changed byte",
        "a file MicroPython refuses",
        "no file",
    ],
)
def test_a_damaged_mpy_is_never_used(tmp_path, damage):
    firmware = _copy(compiled_firmware(), tmp_path)
    path = firmware / MPY
    data = path.read_bytes()
    if damage == "a changed byte":
        path.write_bytes(_flip_in_comb(data))
    elif damage == "a file MicroPython refuses":
        path.write_bytes(b"X" + data[1:])  # Not the .mpy magic byte: ValueError on import.
    else:
        path.unlink()
    assert _run("micropython", firmware, tmp_path) == "built"


@pytest.mark.parametrize("interpreter", ["cpython", "micropython"])
@pytest.mark.parametrize("damage", ["a changed byte", "a syntax error", "no file"])
def test_damaged_source_is_never_used(tmp_path, interpreter, damage):
    firmware = _copy(firmware_files.source_tree(), tmp_path)
    path = firmware / SOURCE
    text = path.read_text()
    if damage == "a changed byte":
        path.write_text(_change_a_digit(text))
    elif damage == "a syntax error":
        path.write_text(text[: len(text) // 2])  # Cut off: an unclosed parenthesis.
    else:
        path.unlink()
    assert _run(interpreter, firmware, tmp_path) == "built"


# Mounts the ROMFS image argv[1] as a board mounts its ROM partition (or, given a directory,
# imports from it), imports the firmware, and prints the heap the generator's tables take and
# the type of their data.
ROMFS_SCRIPT = """
import gc, sys, vfs
if sys.argv[1].endswith(".romfs"):
    with open(sys.argv[1], "rb") as f:
        image = f.read()
    vfs.mount(vfs.VfsRom(image), "/rom")
    sys.path.insert(0, "/rom")
else:
    sys.path.insert(0, sys.argv[1])
from purse.crypto import ecdsa, tables
gc.collect()
before = gc.mem_alloc()
comb, wnaf = tables.generator_comb(), tables.generator_wnaf()
gc.collect()
print(gc.mem_alloc() - before, type(comb.data).__name__, type(wnaf.data).__name__)
X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
R = 0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716
print(tables.__file__, ecdsa.sign(X, b"sample")[0] == R)
"""


def test_a_romfs_image_keeps_the_tables_out_of_the_heap(tmp_path):
    """docs/HARDWARE.md's ROMFS option, as far as the Unix port goes: it has the ROMFS file
    system (vfs.VfsRom) but no ROM partition, so the image is mounted from a buffer (which
    here is itself in the heap, outside the measurement). An .mpy file imported from a ROMFS has
    its bytes constants mapped, not copied, and generator_comb uses them there: the tables take
    a few hundred bytes of heap for their objects instead of their 10 KB. A board's partition,
    `mpremote romfs deploy` and the mount at boot are not tested here."""
    try:
        from mpremote import romfs
    except ImportError:
        romfs = None
    need(romfs is not None, "mpremote's romfs module (mpremote 1.25 or newer)")
    source = _copy(compiled_firmware(), tmp_path)
    (source / "main.py").unlink()  # The board's entry point stays on its writable file system.
    with contextlib.redirect_stdout(io.StringIO()):  # make_romfs prints the tree it packs.
        image = romfs.make_romfs(str(source), mpy_cross=False)
    (tmp_path / "firmware.romfs").write_bytes(image)
    probe = run_micropython(["-c", "import vfs; print(hasattr(vfs, 'VfsRom'))"])
    need(probe.stdout.strip() == "True", "a MicroPython Unix port with vfs.VfsRom (1.25 or newer)")
    script = tmp_path / "romfs.py"
    script.write_text(ROMFS_SCRIPT)
    results = {}
    for name in ("firmware.romfs", "firmware"):
        done = run_micropython([str(script), str(tmp_path / name)], heap="512K")
        assert done.returncode == 0, done.stdout + done.stderr
        heap, file_line = done.stdout.splitlines()
        used, comb_type, wnaf_type = heap.split()
        results[name] = (int(used), comb_type, wnaf_type, file_line)
    # From the image: the module's bytes objects, mapped from it, used where they are.
    used, comb_type, wnaf_type, file_line = results["firmware.romfs"]
    assert used < 1024 and (comb_type, wnaf_type) == ("bytes", "bytes"), results
    assert file_line == "/rom/purse/crypto/tables.mpy True"
    # The same files on a file system: copied into the heap, one bytearray a table.
    used, comb_type, wnaf_type, file_line = results["firmware"]
    assert used > 10240 and (comb_type, wnaf_type) == ("bytearray", "bytearray"), results
    assert file_line.endswith("/firmware/purse/crypto/tables.mpy True")


def test_gen_check_fails_when_the_tables_are_stale(tmp_path):
    """`make gen-check` (part of `make lint`) runs tools/gen_tables.py --check: it passes on the
    checkout and fails when the generated file or the digest in tables.py is not what the
    generator writes."""
    ok = subprocess.run([sys.executable, str(GEN), "--check"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(GEN, tools / GEN.name)
    firmware = _copy(firmware_files.source_tree(), tmp_path)
    assert firmware == tmp_path / "firmware"
    check = [sys.executable, "-I", str(tools / GEN.name), "--check"]
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0
    source = firmware / SOURCE
    source.write_text(_change_a_digit(source.read_text()))
    stale = subprocess.run(check, capture_output=True, text=True, check=False)
    assert stale.returncode == 1 and "gtables.py is out of date" in stale.stdout
    (firmware / SOURCE).unlink()
    tables = firmware / "purse" / "crypto" / "tables.py"
    tables.write_text(tables.read_text().replace("COMB_WIDTH = 5", "COMB_WIDTH = 6"))
    stale = subprocess.run(check, capture_output=True, text=True, check=False)
    assert stale.returncode == 1 and "tables.py is out of date" in stale.stdout
    fixed = subprocess.run(check[:-1], capture_output=True, text=True, check=False)
    assert fixed.returncode == 0 and (firmware / SOURCE).exists()
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0
