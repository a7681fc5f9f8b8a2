"""A client that trickles its request body is answered 408 and cut once `--body-timeout` has
passed, while other clients are served (issue 22, problem 3: 1,100 connections sending 2 bytes
every 5 s stopped the logger answering). The timeout is what is checked, not a speed: the
bounds below are generous so that a loaded machine does not fail them."""

import socket
import time

import httpx2
import pytest

from icpurse.authority import keys
from icpurse.logger.access.signature import authorization
from icpurse.logger.process import LoggerProcess


@pytest.fixture(scope="module")
def logger(tmp_path_factory):
    where = tmp_path_factory.mktemp("slow")
    ca = keys.create(where / "ca.pem", str(where / "ca.pem.pub"))
    issuer = keys.create(where / "issuer.pem", str(where / "issuer.pem.pub"))
    db = "sqlite:///%s" % (where / "log.db")
    with LoggerProcess(where, db, ca, issuer, extra=["--body-timeout", "1"]) as server:
        yield server


def _trickle(url, path, seconds, headers=b"", trickle=0.6):
    """Send headers announcing 100 bytes, then one byte every 0.2 s for `trickle` seconds,
    and wait until `seconds` have passed (or the logger answers); return what the logger sent
    back and whether it closed. The bytes stop before the logger's 1 s body timeout: a byte
    arriving as it closes the connection would be unread there, and the kernel then resets
    the connection, which can drop the 408 on its way here (seen once in CI)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST %s HTTP/1.1\r\nHost: logger\r\nContent-Type: application/json\r\n"
            b"%sContent-Length: 100\r\n\r\n{" % (path.encode(), headers)
        )
        conn.settimeout(0.2)
        answer = b""
        start = time.monotonic()
        while time.monotonic() < start + seconds:
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                if time.monotonic() < start + trickle:
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        return answer, True
                continue
            if not chunk:
                return answer, True
            answer += chunk
        return answer, False


@pytest.mark.parametrize("path", ["/v1/record", "/v1/vouchers"])
def test_a_trickled_body_is_answered_408_and_cut(logger, path):
    # The issuer's route reads a body only for a request its key signs (below): the header is
    # the issuer's, the body never arrives.
    signer = keys.load_signer(logger.directory / "issuer.pem")
    # Any log id will do: the logger refuses the header before the body arrives only for its
    # form, time and key (access/policy.py, admit); the signature is never checked here.
    header = authorization(signer, "POST", path, b"", time.time(), b"\x00" * 8).encode()
    start = time.monotonic()
    answer, closed = _trickle(logger.url, path, seconds=20, trickle=0.8,
                              headers=b"Authorization: %s\r\n" % header)  # fmt: skip
    # The second is counted from the headers, not from the last byte: bytes that keep coming
    # do not buy a client more time (a timer reset by each byte would answer at 1.8 s).
    assert time.monotonic() - start < 1.6
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"did not arrive within 1 s" in answer
    assert closed


def test_a_body_without_a_roles_key_is_not_waited_for(logger):
    start = time.monotonic()
    answer, _ = _trickle(logger.url, "/v1/vouchers", seconds=20)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert time.monotonic() - start < 1


def test_an_honest_client_is_served_beside_a_slow_one(logger):
    host, port = logger.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(b"POST /v1/record HTTP/1.1\r\nHost: logger\r\nContent-Length: 50\r\n\r\n{")
        answer = httpx2.get(logger.url + "/v1/checkpoint", timeout=10)
        assert answer.status_code == 200


def test_a_client_gone_mid_body_leaves_no_traceback(logger):
    """A client that closes its connection with its body half sent (issue 22 attacker review:
    each such connection logged a traceback, which anyone could flood the log with)."""
    host, port = logger.url.removeprefix("http://").split(":")
    for path in ("/v1/record", "/v1/payments"):
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(
                b"POST %s HTTP/1.1\r\nHost: logger\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"rec' % path.encode()
            )
            time.sleep(0.3)
    # The logger still answers, and its log is clean.
    assert httpx2.get(logger.url + "/v1/checkpoint", timeout=10).status_code == 200
    time.sleep(0.5)
    with open(logger.log.name) as out:
        log = out.read()
    assert "Traceback" not in log and "ClientDisconnect" not in log, log[-3000:]
