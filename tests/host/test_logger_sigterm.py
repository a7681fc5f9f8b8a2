"""SIGTERM to the logger's whole process group, as systemd stops a service (issue 22, problem
9): every request in flight gets its own answer, none an error from a helper process that
died under it, and the log holds no traceback."""

import os
import signal
import subprocess
import sys
import threading
import time

import httpx2

from icpurse.authority import keys
from icpurse.logger.process import free_port


def test_sigterm_to_the_process_group_answers_every_request_in_flight(tmp_path):
    ca = keys.create(tmp_path / "ca.pem", str(tmp_path / "ca.pem.pub"))
    issuer = keys.create(tmp_path / "issuer.pem", str(tmp_path / "issuer.pem.pub"))
    keys.create(tmp_path / "logger.pem", str(tmp_path / "logger.pem.pub"))
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    log = open(tmp_path / "logger.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "icpurse", "logger", "serve", "--key", str(tmp_path / "logger.pem"),
         "--db", "sqlite:///%s" % (tmp_path / "log.db"), "--port", str(port),
         "--ca-public-key", ca.hex(), "--issuer-public-key", issuer.hex(), "--workers", "2",
         "--verifiers", "1", "--signers", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx2.get(url + "/v1/checkpoint", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "no logger"
            time.sleep(0.2)
        statuses, stop = [], threading.Event()

        def client():
            with httpx2.Client(timeout=30) as http:
                while not stop.is_set():
                    try:
                        # A bad record still crosses a verifier process before its answer.
                        answer = http.post(url + "/v1/record", json={"record": "00" * 64})
                    except httpx2.HTTPError:
                        return  # The logger stopped listening: a refused connection.
                    statuses.append(answer.status_code)

        clients = [threading.Thread(target=client) for _ in range(16)]
        for c in clients:
            c.start()
        time.sleep(2)
        os.killpg(server.pid, signal.SIGTERM)
        assert server.wait(60) == 0
        stop.set()
        for c in clients:
            c.join(30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    assert statuses, "no request was answered"
    # Each of these records is malformed: 400 is its answer, also during the stop.
    wrong = sorted({s for s in statuses if s != 400})
    assert wrong == [], (wrong, len(statuses))
    text = (tmp_path / "logger.log").read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
