"""`icpurse ca` and `icpurse issuer` end to end, on real key files and SQLite databases."""

import re

import pytest

from icpurse.cli import main
from purse.crypto.pure import PureBackend
from purse.records.credentials import Certificate, RevocationList, RiskParameters, Voucher

BACKEND = PureBackend()
CARD_KEY = "02" + "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def record_hex(out, what):
    return bytes.fromhex(re.search(r"%s \(\d+ bytes\): ([0-9a-f]+)" % what, out).group(1))


@pytest.fixture
def authorities(tmp_path, capsys):
    ca, issuer = tmp_path / "ca", tmp_path / "issuer"
    assert run(capsys, "ca", "init", "--dir", str(ca))[0] == 0
    assert run(capsys, "issuer", "init", "--dir", str(issuer), "--ca", str(ca))[0] == 0
    pk_t = bytes.fromhex((ca / "ca.pub").read_text())
    pk_i = bytes.fromhex((issuer / "issuer.pub").read_text())
    return ca, issuer, pk_t, pk_i


def test_init_refuses_to_overwrite(authorities, capsys):
    ca, issuer, _, _ = authorities
    key_before = (ca / "ca-key.pem").read_bytes()
    code, _, err = run(capsys, "ca", "init", "--dir", str(ca))
    assert code == 2 and "refusing to overwrite" in err
    assert (ca / "ca-key.pem").read_bytes() == key_before
    code, _, err = run(capsys, "issuer", "init", "--dir", str(issuer), "--ca", str(ca))
    assert code == 2 and "refusing to overwrite" in err


def test_init_where_a_file_or_directory_is_in_the_way(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    code, _, err = run(capsys, "ca", "init", "--dir", str(notes))
    assert code == 2 and "%s is a file, not a directory for the key" % notes in err
    code, _, err = run(capsys, "logger", "init", "--key", str(tmp_path))
    assert code == 2 and "%s is a directory, not a key file" % tmp_path in err
    assert notes.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [notes]


def test_certify_load_risk_revoke(authorities, capsys, tmp_path):
    ca, issuer, pk_t, pk_i = authorities
    code, out, _ = run(
        capsys, "ca", "certify", "--dir", str(ca), "--public-key", CARD_KEY,
        "--not-before", "1767225600", "--days", "30",
    )  # fmt: skip
    assert code == 0 and "serial 1" in out
    cert = Certificate.decode(record_hex(out, "certificate"))
    cert.verify(BACKEND, pk_t)
    assert cert.public_key.hex() == CARD_KEY and cert.not_after == 1767225600 + 30 * 86400
    card = cert.card_id.hex()
    assert "certified card %s" % card in out

    code, _, err = run(capsys, "ca", "certify", "--dir", str(ca), "--public-key", CARD_KEY)
    assert code == 2 and "already certified" in err

    cert_file = tmp_path / "card.cert"
    cert_file.write_bytes(cert.encode())
    # A card's first voucher names its log: without a logger, the issuer must be told it.
    load = ("issuer", "load", "--dir", str(issuer), "--certificate", str(cert_file),
            "--amount", "5000", "--ltime", "1767300000")  # fmt: skip
    code, _, err = run(capsys, *load)
    assert code == 2 and "does not know the log of card %s" % card in err, err
    code, out, _ = run(capsys, *load, "--log-id", "0102030405060708")
    assert code == 0 and "issued total w = 5000" in out
    code, out, _ = run(
        capsys, "issuer", "load", "--dir", str(issuer), "--card", card, "--amount", "250",
        "--out", str(tmp_path / "v.bin"),
    )  # fmt: skip
    assert code == 0 and "issued total w = 5250, voucher sequence 2" in out
    voucher = Voucher.decode((tmp_path / "v.bin").read_bytes())
    voucher.verify(BACKEND, pk_i)
    assert (voucher.public_key, voucher.issued, voucher.sequence) == (cert.public_key, 5250, 2)
    assert voucher.log_id == bytes.fromhex("0102030405060708")
    code, _, err = run(capsys, "issuer", "load", "--dir", str(issuer), "--card", card,
                       "--amount", "1", "--log-id", "0807060504030201")  # fmt: skip
    assert code == 2 and "belongs to log 0102030405060708" in err, err

    code, out, _ = run(
        capsys, "issuer", "risk", "--dir", str(issuer), "--balance-cap", "100000",
        "--payment-cap", "20000", "--unlogged-cap", "50000", "--window", "7d",
    )  # fmt: skip
    assert code == 0
    risk = RiskParameters.decode(record_hex(out, "risk parameters"))
    risk.verify(BACKEND, pk_i)
    assert (risk.sequence, risk.window, risk.payment_cap) == (1, 7 * 86400, 20000)

    code, out, _ = run(capsys, "ca", "revoke", "--dir", str(ca), "--card", card, "--ltime", "9")
    assert code == 0 and "revocation list 1 lists 1 card(s)" in out
    rl = RevocationList.decode(record_hex(out, "revocation list"))
    rl.verify(BACKEND, pk_t)
    assert rl.revoked == [cert.card_id] and rl.ltime == 9
    code, out, _ = run(capsys, "ca", "revoke", "--dir", str(ca), "--card", card)
    assert RevocationList.decode(record_hex(out, "revocation list")).sequence == 2


def test_clear_errors(authorities, capsys, tmp_path):
    ca, issuer, _, _ = authorities
    code, _, err = run(capsys, "issuer", "load", "--dir", str(issuer), "--card", "00" * 8,
                       "--amount", "3")  # fmt: skip
    assert code == 2 and "unknown card 0000000000000000" in err
    code, _, err = run(capsys, "ca", "revoke", "--dir", str(ca), "--card", "00" * 8)
    assert code == 2 and "never certified" in err
    with pytest.raises(SystemExit) as exc:
        main(["issuer", "load", "--dir", str(issuer), "--card", "00" * 8, "--amount", "-1"])
    assert exc.value.code == 2
    assert "is not an amount" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["issuer", "load", "--dir", str(issuer), "--card", "xyz", "--amount", "1"])
    assert "is not a card id" in capsys.readouterr().err
    code, _, err = run(capsys, "ca", "certify", "--dir", str(ca), "--public-key", "02" + "ff" * 32)
    assert code == 2 and "not a valid P-256 public key" in err
    code, _, err = run(capsys, "ca", "certify", "--dir", str(ca), "--public-key", "04" + "00" * 32)
    assert code == 2 and "compressed" in err
    code, _, err = run(
        capsys, "issuer", "risk", "--dir", str(issuer), "--balance-cap", "10",
        "--payment-cap", "20", "--unlogged-cap", "5", "--window", "1h",
    )  # fmt: skip
    assert code == 2 and "payment cap cannot exceed" in err
    code, _, err = run(capsys, "ca", "certify", "--dir", str(tmp_path / "nowhere"),
                       "--public-key", CARD_KEY)  # fmt: skip
    assert code == 2 and "run init first" in err


def test_certificate_of_another_ca_is_refused(authorities, capsys, tmp_path):
    _, issuer, _, _ = authorities
    other = tmp_path / "other-ca"
    run(capsys, "ca", "init", "--dir", str(other))
    _, out, _ = run(capsys, "ca", "certify", "--dir", str(other), "--public-key", CARD_KEY)
    foreign = record_hex(out, "certificate").hex()
    code, _, err = run(capsys, "issuer", "load", "--dir", str(issuer), "--certificate", foreign,
                       "--amount", "1")  # fmt: skip
    assert code == 2 and "not signed by this issuer's CA" in err


def test_encrypted_keys(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ICPURSE_PASSPHRASE", raising=False)
    secret = tmp_path / "pass"
    secret.write_text("correct horse\n")
    ca = tmp_path / "ca"
    code, out, _ = run(capsys, "ca", "init", "--dir", str(ca), "--passphrase-file", str(secret))
    assert code == 0 and "unencrypted" not in out
    assert b"ENCRYPTED" in (ca / "ca-key.pem").read_bytes()
    code, _, err = run(capsys, "ca", "certify", "--dir", str(ca), "--public-key", CARD_KEY)
    assert code == 2 and "is encrypted" in err
    monkeypatch.setenv("ICPURSE_PASSPHRASE", "wrong")
    code, _, err = run(capsys, "ca", "certify", "--dir", str(ca), "--public-key", CARD_KEY)
    assert code == 2 and "wrong passphrase" in err
    monkeypatch.setenv("ICPURSE_PASSPHRASE", "correct horse")
    code, out, _ = run(capsys, "ca", "certify", "--dir", str(ca), "--public-key", CARD_KEY)
    assert code == 0 and "serial 1" in out
    assert "correct horse" not in out


def test_damaged_files(authorities, capsys):
    ca, issuer, _, _ = authorities
    (ca / "ca-key.pem").write_text("not a key")
    code, _, err = run(capsys, "ca", "certify", "--dir", str(ca), "--public-key", CARD_KEY)
    assert code == 2 and "not a readable PEM private key" in err
    (issuer / "issuer.sqlite").write_bytes(b"garbage" * 100)
    for suffix in ("-wal", "-shm"):
        (issuer / ("issuer.sqlite" + suffix)).unlink(missing_ok=True)
    code, _, err = run(capsys, "issuer", "load", "--dir", str(issuer), "--card", "00" * 8,
                       "--amount", "1")  # fmt: skip
    assert code == 2 and "damaged or not a database" in err


def test_help_on_every_command(capsys):
    for argv in (
        ["ca", "--help"], ["ca", "init", "--help"], ["ca", "certify", "--help"],
        ["ca", "revoke", "--help"], ["issuer", "--help"], ["issuer", "init", "--help"],
        ["issuer", "load", "--help"], ["issuer", "risk", "--help"],
    ):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
        assert "usage: icpurse" in capsys.readouterr().out


def test_a_missing_public_key_file_is_named(authorities, capsys, tmp_path):
    ca, _, pk_t, _ = authorities
    # --ca takes the CA's directory; given the key itself, the message says what is missing.
    code, _, err = run(capsys, "issuer", "init", "--dir", str(tmp_path / "i1"), "--ca", pk_t.hex())
    assert code == 2 and "%s is not a directory (one holding ca.pub)" % pk_t.hex() in err
    code, _, err = run(capsys, "issuer", "init", "--dir", str(tmp_path / "i2"),
                       "--ca", str(tmp_path))  # fmt: skip
    assert code == 2 and "%s has no ca.pub" % tmp_path in err
    code, _, err = run(capsys, "issuer", "init", "--dir", str(tmp_path / "i3"),
                       "--ca-public-key", str(tmp_path / "pk.pub"))  # fmt: skip
    assert code == 2 and "%s has no pk.pub" % tmp_path in err
    code, _, err = run(capsys, "issuer", "init", "--dir", str(tmp_path / "i4"),
                       "--ca-public-key", "not-hex")  # fmt: skip
    assert code == 2 and "not-hex is neither a public key file nor hex" in err
    code, _, err = run(capsys, "issuer", "init", "--dir", str(tmp_path / "i5"),
                       "--ca-public-key", str(ca / "ca-key.pem"))  # fmt: skip
    assert code == 2 and "ca-key.pem is a PEM key file; give the public key, in the .pub" in err
    binary = tmp_path / "binary.pub"
    binary.write_bytes(b"\x02\xff" * 16)
    code, _, err = run(capsys, "issuer", "init", "--dir", str(tmp_path / "i6"),
                       "--ca-public-key", str(binary))  # fmt: skip
    assert code == 2 and "binary.pub is not a public key file (not text)" in err
    code, _, err = run(capsys, "issuer", "init", "--dir", str(tmp_path / "i7"),
                       "--ca-public-key", str(ca / "ca.sqlite"))  # fmt: skip
    assert code == 2 and "ca.sqlite is too large to be a public key file" in err
    assert not any(
        (tmp_path / name).exists() for name in ("i1", "i2", "i3", "i4", "i5", "i6", "i7")
    )
    # The key's hex and its file both still work.
    for option, value in (("--ca-public-key", pk_t.hex()), ("--ca", str(ca))):
        assert (
            run(capsys, "issuer", "init", "--dir", str(tmp_path / option), option, value)[0] == 0
        )


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("/dev/zero", "/dev/zero is too large to be a {what} file"),
        ("{tmp}", "{tmp} is a directory, not a {what} file"),
        ("{tmp}/nothing", "there is no {what} file at {tmp}/nothing"),
    ],
    ids=["endless", "directory", "missing"],
)
def test_key_and_passphrase_files_that_cannot_be_one(authorities, capsys, tmp_path, where,
                                                      message):  # fmt: skip
    ca = authorities[0]
    where = where.format(tmp=tmp_path)
    code, _, err = run(capsys, "ca", "certify", "--dir", str(ca), "--public-key", CARD_KEY,
                       "--passphrase-file", where)  # fmt: skip
    assert code == 2 and message.format(tmp=tmp_path, what="passphrase") in err, err
    code, _, err = run(capsys, "logger", "serve", "--key", where, "--db",
                       "sqlite:///%s" % (tmp_path / "log.db"), "--ca", str(ca))  # fmt: skip
    if where.endswith("nothing"):
        message = "no key at {tmp}/nothing (run init first)"
    assert code == 2 and message.format(tmp=tmp_path, what="key") in err, err
    assert not (tmp_path / "log.db").exists()


def test_an_authority_database_of_protocol_1_is_refused(tmp_path):
    import sqlite3

    from icpurse.authority import AuthorityError
    from icpurse.authority.ca import CertificationAuthority
    from icpurse.authority.issuer import Issuer

    CertificationAuthority.init(tmp_path / "ca")
    Issuer.init(tmp_path / "issuer", tmp_path / "ca" / "ca.pub")
    # Take both back to the last schema of protocol 1: they must be refused, not misread.
    for path, version in ((tmp_path / "ca" / "ca.sqlite", 1),
                          (tmp_path / "issuer" / "issuer.sqlite", 2)):  # fmt: skip
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA user_version = %d" % version)
            conn.execute("DELETE FROM meta WHERE key = 'protocol'")
    for opener, directory in ((CertificationAuthority.open, "ca"), (Issuer.open, "issuer")):
        try:
            opener(tmp_path / directory)
            raise AssertionError("a protocol-1 %s database was opened" % directory)
        except AuthorityError as exc:
            assert "protocol 1" in str(exc) and "init a new %s" % directory in str(exc)
