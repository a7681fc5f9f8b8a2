"""`icpurse emulate` as a user runs it: a pty path on its first line, a socket:// address on
request, and a clean stop."""

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
