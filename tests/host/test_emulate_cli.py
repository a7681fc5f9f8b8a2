"""`icpurse emulate` as a user runs it: a pty path on its first line, a socket:// address on
request, and a clean stop."""

import socket
import subprocess
import sys
import time

from icpurse.logger.process import free_port
from icpurse.seriallink import SerialLink
from purse import proto
from purse.client import CardClient


def test_emulate_serves_a_pty_and_a_socket(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "icpurse", "emulate", "--state", str(tmp_path / "card"),
         "--runtime", "cpython", "--tcp", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        first, second = process.stdout.readline(), process.stdout.readline()
        assert first.startswith("card on /dev/pts/")
        assert second.strip() == "also on socket://127.0.0.1:%d" % port
        deadline = time.monotonic() + 20
        while True:
            try:
                link = SerialLink("socket://127.0.0.1:%d" % port, timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with link:
            assert CardClient(link.exchange).select().state == proto.STATE_FRESH
        assert (tmp_path / "card" / "config.json").exists()
    finally:
        process.terminate()
        assert process.wait(10) == 0


def _emulate(*args):
    return subprocess.run(
        [sys.executable, "-m", "icpurse", "emulate", "--runtime", "cpython", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_file_where_the_directory_should_be_is_a_one_line_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    for option, what in (("--state", "the card's state"), ("--bare", "the board's flash")):
        done = _emulate(option, str(path))
        assert done.returncode == 2, done.stderr
        assert "%s is a file, not a directory for %s" % (path, what) in done.stderr
        assert "Traceback" not in done.stderr
    assert path.read_text() == "keep me"


def test_an_nfc_device_that_cannot_be_one_is_a_one_line_error(tmp_path):
    for device, message in (
        (tmp_path / "nothing", "--nfc-device %s: No such file or directory"),
        (tmp_path, "--nfc-device %s is not a serial device (a pty or a tty)"),
    ):  # fmt: skip
        done = _emulate("--state", str(tmp_path / "card"), "--nfc-device", str(device))
        assert done.returncode == 2, done.stderr
        assert message % device in done.stderr
        assert "card on" not in done.stdout


def test_a_tcp_port_in_use_is_a_one_line_error(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = _emulate("--state", str(tmp_path / "card"), "--tcp", str(port))
    assert done.returncode == 2, done.stderr
    assert "cannot serve socket://127.0.0.1:%d: Address already in use" % port in done.stderr
    assert "Traceback" not in done.stderr


def test_flashing_an_emulated_card_names_what_can_be_flashed(tmp_path):
    # An emulated card not yet personalised honours the link's escape to the REPL, like a
    # board; but it has no REPL, so it stops, and both commands say why instead of leaving the
    # user with "cannot open" for a pty that went away.
    process = subprocess.Popen(
        [sys.executable, "-m", "icpurse", "emulate", "--state", str(tmp_path / "card"),
         "--runtime", "cpython"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        port = process.stdout.readline().split()[-1]
        flashed = subprocess.run(
            [sys.executable, "-m", "icpurse", "flash", "--port", port],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert flashed.returncode == 2, flashed.stderr
    assert "%s went away when the wallet left for the REPL" % port in flashed.stderr
    assert "icpurse emulate --bare DIR" in flashed.stderr
    assert "Traceback" not in flashed.stderr
    assert process.returncode == 0
    assert "the wallet left for the REPL (asked by its link)" in err
