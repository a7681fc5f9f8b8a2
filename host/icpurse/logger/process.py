"""Run `icpurse logger serve` as a real process on a free loopback port (tests, benchmarks,
the demo)."""

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from icpurse.authority import keys


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoggerProcess:
    """The logger service in its own process; a context manager that waits until it answers
    and fails fast if the process dies."""

    def __init__(self, directory, db, ca_key, issuer_key, workers=1, window=None,
                 sequencer=None, passphrase_file=None, extra=(), tls=None):  # fmt: skip
        """`tls`: (certificate, key) PEM paths to serve https with; the process is then polled
        over https, trusting that certificate."""
        self.directory = Path(directory)
        self.key = self.directory / "logger.pem"
        if not self.key.exists():
            keys.create(self.key, str(self.key) + ".pub")
        self.public_key = keys.read_public(str(self.key) + ".pub")
        self.db = db
        self.ca_key = ca_key
        self.issuer_key = issuer_key
        self.workers = workers
        self.window = window
        self.sequencer = sequencer
        self.passphrase_file = passphrase_file
        self.extra = list(extra)  # More `logger serve` options, as given.
        self.port = free_port()
        self.tls = tls
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.process = None

    def start(self, timeout=30):
        command = [
            sys.executable, "-m", "icpurse", "logger", "serve", "--db", self.db,
            "--key", str(self.key), "--port", str(self.port),
            "--ca-public-key", self.ca_key.hex(), "--issuer-public-key", self.issuer_key.hex(),
            "--workers", str(self.workers),
        ]  # fmt: skip
        if self.window is not None:
            command += ["--window", str(self.window)]
        if self.sequencer is not None:
            command += ["--sequencer", self.sequencer]
        if self.passphrase_file is not None:
            command += ["--passphrase-file", str(self.passphrase_file)]
        if self.tls is not None:
            command += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        command += self.extra
        self.log = open(self.directory / ("logger-%d.log" % time.monotonic_ns()), "wb")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("the logger exited with %d" % self.process.returncode)
            try:
                verify = ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else True
                answer = httpx2.get(self.url + "/openapi.json", timeout=1, verify=verify)
                if answer.status_code == 200:
                    return self
            except httpx2.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the logger did not answer within %d s" % timeout)

    def kill(self):
        """SIGKILL: the power-cut of a server."""
        self.process.kill()
        self.process.wait()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
