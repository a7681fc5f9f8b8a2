"""The logger over TLS (issue 22, problem 4): `logger serve --tls-cert/--tls-key`, and clients
that check its certificate (the system's authorities, or --logger-ca with the logger's own
certificate or a bundle). The handshake is Python's ssl module (OpenSSL) on both sides."""

import datetime
import ipaddress
import ssl

import httpx2
import pytest
from bank import icpurse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from icpurse.authority import keys
from icpurse.authority.ca import CertificationAuthority
from icpurse.authority.issuer import Issuer
from icpurse.logger.client import LoggerClient, LoggerError
from icpurse.logger.process import LoggerProcess


def _self_signed(directory, name="logger"):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "icpurse test " + name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / (name + "-cert.pem"), directory / (name + "-tls.pem")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_logger(tmp_path):
    CertificationAuthority.init(tmp_path / "ca")
    Issuer.init(tmp_path / "issuer", tmp_path / "ca" / "ca.pub")
    keys.create(tmp_path / "operator.pem", str(tmp_path / "operator.pem") + ".pub")
    logs = tmp_path / "logger"
    logs.mkdir()
    cert, key = _self_signed(tmp_path)
    server = LoggerProcess(
        logs, "sqlite:///%s" % (logs / "log.db"),
        keys.read_public(tmp_path / "ca" / "ca.pub"),
        keys.read_public(tmp_path / "issuer" / "issuer.pub"),
        tls=(cert, key), extra=["--operator", str(tmp_path / "operator.pem.pub")],
    )  # fmt: skip
    with server:
        yield server, cert


def test_the_audit_and_a_login_run_over_verified_tls(tls_logger, tmp_path):
    server, cert = tls_logger
    assert server.url.startswith("https://")
    pk_l = keys.read_public(str(server.key) + ".pub").hex()
    common = ("--logger", server.url, "--logger-key", pk_l)
    done = icpurse("audit", *common, "--logger-ca", cert, "--issuer", tmp_path / "issuer")
    assert done.returncode == 0 and "audit passed" in done.stdout, done.stdout + done.stderr
    done = icpurse(
        "logger", "login", *common, "--logger-ca", cert, "--operator-key",
        tmp_path / "operator.pem", "--cookie-file", tmp_path / "cookie.json",
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("icpurse_session=v1."), done.stderr
    assert "expires 20" in done.stderr
    # The cookie (over https: Secure) reads the ledger.
    token = done.stdout.strip().split("=", 1)[1]
    answer = httpx2.get(
        server.url + "/v1/ledger", cookies={"icpurse_session": token},
        verify=ssl.create_default_context(cafile=str(cert)),
    )  # fmt: skip
    assert answer.status_code == 200


def test_a_certificate_nobody_vouches_for_is_refused(tls_logger, tmp_path):
    server, _ = tls_logger
    # Without --logger-ca the system's authorities do not know the self-signed certificate.
    done = icpurse("audit", "--logger", server.url, "--issuer", tmp_path / "issuer",
                   "--logger-key", keys.read_public(str(server.key) + ".pub").hex())  # fmt: skip
    assert done.returncode == 2 and "CERTIFICATE_VERIFY_FAILED" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    # Another certificate, pinned by mistake: refused too.
    other, _ = _self_signed(tmp_path, "other")
    client = LoggerClient(server.url, verify=other)
    with pytest.raises(LoggerError, match="CERTIFICATE_VERIFY_FAILED"):
        client.checkpoint()
    client.close()
    # Plain http to the https port gets no answer the client could take for the logger's.
    plain = LoggerClient(server.url.replace("https://", "http://"))
    with pytest.raises(LoggerError):
        plain.checkpoint()
    plain.close()


def test_serve_refuses_half_a_tls_configuration(tmp_path):
    cert, key = _self_signed(tmp_path)
    other_cert, _ = _self_signed(tmp_path, "other")
    keys.create(tmp_path / "l.pem", str(tmp_path / "l.pem.pub"))
    db = "sqlite:///%s" % (tmp_path / "log.db")
    base = ("logger", "serve", "--key", tmp_path / "l.pem", "--db", db,
            "--ca-public-key", "02" + "11" * 32)  # fmt: skip
    done = icpurse(*base, "--tls-cert", cert)
    assert done.returncode != 0 and "needs both --tls-cert and --tls-key" in done.stderr
    done = icpurse(*base, "--tls-cert", other_cert, "--tls-key", key)
    assert done.returncode != 0 and "are not a PEM certificate and its key" in done.stderr
    assert "Traceback" not in done.stderr
