"""`icpurse field` takes its socket path over only from a server that ended without closing it:
never a file that is not a socket (it used to delete whatever was at --socket) and never a
socket something listens on; a path it cannot listen on is a one-line error."""

import socket
import subprocess
import sys
import tempfile
import threading

import pytest

from icpurse.emulator.fieldserver import FieldError, FieldServer, join


@pytest.fixture
def short_dir():
    # A unix socket's path is limited to about 100 bytes; pytest's tmp paths can be longer.
    with tempfile.TemporaryDirectory(prefix="icf") as directory:
        yield directory


def test_a_file_that_is_not_a_socket_is_left_alone(short_dir):
    path = "%s/notes.txt" % short_dir
    with open(path, "w") as f:
        f.write("keep me")
    with pytest.raises(FieldError, match="exists and is not a socket"):
        FieldServer(path)
    with open(path) as f:
        assert f.read() == "keep me"
    done = subprocess.run(
        [sys.executable, "-m", "icpurse", "field", "--socket", path],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "is not a socket" in done.stderr and "Traceback" not in done.stderr
    with open(path) as f:
        assert f.read() == "keep me"


def test_a_running_field_keeps_its_socket(short_dir):
    path = "%s/field.sock" % short_dir
    first = FieldServer(path)
    threading.Thread(target=first.run, daemon=True).start()
    try:
        with pytest.raises(FieldError, match="already listens"):
            FieldServer(path)
        # The first field still hands out chips.
        chip, conn = join(path)
        conn.close()
        assert chip.startswith("/dev/")
    finally:
        first.close()


def test_a_socket_left_behind_is_taken_over(short_dir):
    path = "%s/field.sock" % short_dir
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # As a killed server leaves it: the path stays, nobody listens.
    server = FieldServer(path)
    server.close()


def test_a_directory_that_does_not_exist_is_a_clear_error(short_dir):
    with pytest.raises(FieldError, match=r"cannot listen on .*: No such file or directory"):
        FieldServer("%s/missing/field.sock" % short_dir)


def test_close_ends_run_on_another_thread(short_dir):
    server = FieldServer("%s/field.sock" % short_dir)
    failures = []

    def serve():
        try:
            server.run()
        except Exception as exc:  # noqa: BLE001 - what the test looks for.
            failures.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    _, conn = join(server.path)  # It serves: accept() has run once at least.
    conn.close()
    server.close()
    thread.join(5)
    assert not thread.is_alive() and failures == []
