"""Backup and restore of the log (issue 22, docs/OPERATIONS.md): `icpurse logger backup`
copies the database while the logger serves, and a logger started on the restored copy passes
the audit, which re-verifies the whole tree against every signed checkpoint. SQLite through its
online backup API; PostgreSQL through the real pg_dump and pg_restore."""

import shutil
import subprocess
import uuid

import httpx2
import psycopg
from logger_fixtures import PG_URL, LoggerWorld, drop_schema, postgres_url
from mp_support import need

from icpurse import audit
from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.process import LoggerProcess
from icpurse.terminal import transfer


def test_a_live_sqlite_backup_restores_and_passes_the_audit(bank):
    a, b = bank.card("a", 1000), bank.card("b")
    transfer(a.client, b.client, 120, logger=bank.logger)
    transfer(b.client, a.client, 20, logger=bank.logger)
    original = bank.logger.checkpoint()
    copy = bank.tmp / "backup.db"
    done = bank.cli("logger", "backup", "--db", "sqlite:///%s" % bank.db, "--out", copy)
    assert done.returncode == 0, done.stderr
    again = bank.cli("logger", "backup", "--db", "sqlite:///%s" % bank.db, "--out", copy)
    assert again.returncode == 2 and "never overwrites" in again.stderr, again.stderr
    restored = LoggerProcess(bank.tmp / "logger", "sqlite:///%s" % copy,
                             bank.ca.signer.public_key, bank.issuer.signer.public_key)  # fmt: skip
    with restored:
        args = ("--logger", restored.url, "--logger-key", bank.logger_key.hex())
        checked = bank.cli("audit", "--issuer", bank.tmp / "issuer", *args)
        assert checked.returncode == 0 and "audit passed" in checked.stdout, checked.stdout
        cp = httpx2.get(restored.url + "/v1/checkpoint", timeout=10).json()
        assert (cp["tree_size"], cp["root"]) == (original.tree_size, original.root.hex())


def test_a_postgresql_backup_restores_with_pg_restore_and_passes_the_audit(tmp_path):
    need(shutil.which("pg_restore") is not None, "pg_restore")
    url, schema = postgres_url()
    world = LoggerWorld(url)
    database = "icpurse_restore_%s" % uuid.uuid4().hex[:12]
    restored = None
    try:
        a, b = world.new_card(b"A", 1000), world.new_card(b"B")
        world.transfer(a, b, 300)
        assert world.client.sync(b.client).receipted == 1
        original = world.client.checkpoint()
        out = tmp_path / "log.dump"
        world.storage.backup(out)
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute("CREATE DATABASE %s" % database)
        target = PG_URL.rsplit("/", 1)[0] + "/" + database
        done = subprocess.run(["pg_restore", "--dbname", target, str(out)],
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        restored = LoggerWorld("%s?options=-csearch_path%%3D%s" % (target, schema))
        report = audit.run(restored.client, None, PycaBackend(), restored.logger.public_key)
        assert report.passed, report.anomalies
        cp = restored.client.checkpoint()
        assert (cp.tree_size, cp.root) == (original.tree_size, original.root)
    finally:
        if restored is not None:
            restored.close()
        world.close()
        drop_schema(schema)
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % database)


def test_a_backup_of_a_missing_database_is_a_one_line_error(tmp_path, capsys):
    from icpurse.cli import main

    code = main(["logger", "backup", "--db", "sqlite:///%s" % (tmp_path / "no" / "log.db"),
                 "--out", str(tmp_path / "b.db")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("icpurse: error: ") and err.count("\n") == 1, err
