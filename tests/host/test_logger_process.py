"""The logger as an operator runs it: Ctrl-C stops it cleanly, and its worker processes never
outlive it, even when it is killed outright."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx2

from icpurse.authority import keys
from icpurse.bench import proctree
from icpurse.bench.loadgen import LoadGenerator
from icpurse.logger.client.signing import RequestSigning
from icpurse.logger.process import free_port


def _start(tmp_path, *options):
    """`logger serve` with `options`; (process, its URL, the LoadGenerator it trusts)."""
    gen = LoadGenerator(b"process", cards=2)
    key = tmp_path / "logger.pem"
    keys.create(key, str(key) + ".pub")
    port = free_port()
    command = [
        sys.executable, "-m", "icpurse", "logger", "serve", "--db",
        "sqlite:///%s" % (tmp_path / "log.db"), "--key", str(key), "--port", str(port),
        "--ca-public-key", gen.ca.public_key.hex(),
        "--issuer-public-key", gen.issuer.public_key.hex(), "--verifiers", "2", "--signers", "2",
        *options,
    ]  # fmt: skip
    # A session of its own, as in a terminal: Ctrl-C goes to its whole process group.
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = "http://127.0.0.1:%d" % port
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(url + "/openapi.json", timeout=1).status_code == 200:
                return process, url, gen
        except httpx2.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the logger did not start: %s" % process.communicate()[0].decode())


def _children(pid):
    """Every process below `pid`: the receipt signers are children of the appender process."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    children = [int(p) for p in found.stdout.split()]
    return children + [d for child in children for d in _children(child)]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


def test_ctrl_c_stops_the_service_and_its_workers_without_a_traceback(tmp_path):
    process, _, _ = _start(tmp_path)
    workers = _children(process.pid)
    # Two verifiers, the appender and its two signers (and the resource tracker), each named
    # after its part in ps and top.
    names = [proctree.name(pid) for pid in workers]
    assert sorted(n for n in names if n.startswith("icpurse-")) == [
        "icpurse-append", "icpurse-sign", "icpurse-sign", "icpurse-verify", "icpurse-verify"
    ], names  # fmt: skip
    os.killpg(process.pid, signal.SIGINT)
    output = process.communicate(timeout=30)[0].decode()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert _wait_gone(workers, 10) == []


def test_workers_leave_when_the_service_is_killed(tmp_path):
    process, _, _ = _start(tmp_path)
    workers = _children(process.pid)
    assert len(workers) >= 5
    process.kill()
    process.communicate(timeout=30)
    # Each worker notices that its parent is gone within its poll interval.
    assert _wait_gone(workers, 10) == []


def test_the_appender_runs_in_its_own_process_or_on_a_thread(tmp_path):
    for option, appenders in (("process", 1), ("thread", 0)):
        process, url, gen = _start(tmp_path / option, "--sequencer", option)
        try:
            # The appender process is the one below the service with processes of its own:
            # its two receipt signers.
            below = {child: _children(child) for child in _children(process.pid)}
            assert [len(c) for c in below.values() if c] == [2] * appenders, below
            with httpx2.Client(base_url=url, timeout=30) as http:
                gen.join_logger(http)
            for voucher in gen.vouchers():
                httpx2.post(url + "/v1/vouchers", json={"voucher": voucher.hex()}, timeout=30,
                            auth=RequestSigning(gen.issuer))  # fmt: skip
            (record,) = gen.records(1)
            answer = httpx2.post(url + "/v1/record", json={"record": record.hex()}, timeout=30)
            assert answer.status_code == 200 and answer.json()["leaf_index"] == 0
        finally:
            process.terminate()
            process.communicate(timeout=30)


def test_an_unknown_log_level_gets_a_usage_error_not_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "icpurse", "logger", "serve", "--key", str(tmp_path / "k.pem"),
         "--log-level", "loud"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "argument --log-level: invalid choice: 'loud'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_address_it_cannot_listen_on_is_a_one_line_error_before_it_starts(tmp_path):
    key = tmp_path / "logger.pem"
    keys.create(key, str(key) + ".pub")
    gen = LoadGenerator(b"listen", cards=1)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        for host, reason in (
            ("127.0.0.1", "Address already in use"),
            ("nosuch.invalid", ""),  # The resolver's words vary: without DNS, "Temporary...".
            ("192.0.2.1", "Cannot assign requested address"),  # TEST-NET-1: no machine's own.
        ):  # fmt: skip
            done = subprocess.run(
                [sys.executable, "-m", "icpurse", "logger", "serve", "--key", str(key),
                 "--db", "sqlite:///%s" % (tmp_path / "log.db"), "--host", host,
                 "--port", str(port), "--ca-public-key", gen.ca.public_key.hex(),
                 "--issuer-public-key", gen.issuer.public_key.hex()],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 2, done.stderr
            first = "icpurse: error: cannot listen on %s:%d: %s" % (host, port, reason)
            assert done.stderr.startswith(first) and done.stderr.count("\n") == 1
