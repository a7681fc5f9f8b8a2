"""`logger init --passphrase-file` encrypts the logger's key, and `logger serve` runs on it
with the same option, its workers reading the file themselves (issue 22, problem 12)."""

import os

import httpx2
import pytest

from icpurse.authority import keys
from icpurse.cli import main
from icpurse.logger.process import LoggerProcess


@pytest.fixture
def anchors(tmp_path):
    ca = keys.create(tmp_path / "ca.pem", str(tmp_path / "ca.pem.pub"))
    issuer = keys.create(tmp_path / "issuer.pem", str(tmp_path / "issuer.pem.pub"))
    return ca, issuer


def test_logger_init_encrypts_and_serve_decrypts_with_a_passphrase_file(
    tmp_path, anchors, capsys, monkeypatch
):
    monkeypatch.delenv("ICPURSE_PASSPHRASE", raising=False)
    secret = tmp_path / "passphrase"
    secret.write_text("correct horse battery staple\n")
    key = tmp_path / "logger.pem"
    assert main(["logger", "init", "--key", str(key), "--passphrase-file", str(secret)]) == 0
    out = capsys.readouterr().out
    assert "unencrypted" not in out
    assert b"ENCRYPTED" in key.read_bytes()
    assert "correct horse" not in out
    db = "sqlite:///%s" % (tmp_path / "log.db")
    with LoggerProcess(tmp_path, db, *anchors, passphrase_file=secret) as logger:
        answer = httpx2.get(logger.url + "/v1/checkpoint", timeout=5)
        assert answer.status_code == 200
        assert "ICPURSE_PASSPHRASE" not in os.environ


def test_serve_without_the_passphrase_is_a_one_line_error(tmp_path, anchors, capsys, monkeypatch):
    monkeypatch.delenv("ICPURSE_PASSPHRASE", raising=False)
    secret = tmp_path / "passphrase"
    secret.write_text("s3cret")
    key = tmp_path / "logger.pem"
    assert main(["logger", "init", "--key", str(key), "--passphrase-file", str(secret)]) == 0
    wrong = tmp_path / "wrong"
    wrong.write_text("guess")
    ca, issuer = anchors
    for extra in ([], ["--passphrase-file", str(wrong)]):
        capsys.readouterr()
        code = main(["logger", "serve", "--key", str(key), "--db",
                     "sqlite:///%s" % (tmp_path / "log.db"), "--ca-public-key", ca.hex(),
                     "--issuer-public-key", issuer.hex(), *extra])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2
        assert err.startswith("icpurse: error: ") and err.count("\n") == 1, err
        assert "s3cret" not in err and "guess" not in err


def test_logger_init_without_a_passphrase_says_the_key_is_unencrypted(tmp_path, capsys,
                                                                       monkeypatch):  # fmt: skip
    monkeypatch.delenv("ICPURSE_PASSPHRASE", raising=False)
    assert main(["logger", "init", "--key", str(tmp_path / "k.pem")]) == 0
    assert "stored unencrypted" in capsys.readouterr().out
