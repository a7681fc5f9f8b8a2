"""PostgreSQL storage for the logger, through psycopg 3 and a connection pool.

Several service workers share one database: the sequencer's transaction takes a transaction
-level advisory lock, so appends to the Merkle tree stay serial whichever worker makes them.
"""

import contextlib
import os
from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from icpurse.logger.storage.base import Storage, StorageError, _first_line, shown
from icpurse.logger.storage.migrations import MIGRATIONS_POSTGRES, migrate

# Key of the advisory lock the sequencer holds while it appends ("icpurse" in ASCII).
SEQUENCER_LOCK = 0x6963707572736500


class PostgresStorage(Storage):
    dialect = "postgresql"

    def __init__(self, url, min_size=1, max_size=8):
        self.url = url
        try:
            # One connection first: its error says why (refused, unknown database, no such
            # role), where the pool would only time out and log the reason meanwhile.
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise StorageError(
                "cannot reach PostgreSQL at %s: %s" % (shown(url), _first_line(exc))
            ) from None
        try:
            self.pool = ConnectionPool(
                url, min_size=min_size, max_size=max_size, kwargs={"autocommit": True},
                open=True, timeout=10, configure=_configure,
            )  # fmt: skip
            self.pool.wait(timeout=10)
        except (psycopg.Error, Exception) as exc:  # noqa: BLE001 - the pool raises its own types.
            raise StorageError("cannot reach PostgreSQL at %s: %s" % (shown(url), exc)) from None
        with self.pool.connection() as conn:
            migrate(self, conn, MIGRATIONS_POSTGRES)

    @staticmethod
    def _is_failure(exc):
        # A lost or restarted server, a pool that cannot connect (PoolTimeout is an
        # OperationalError), a full disk, damaged data (DataCorrupted is an InternalError).
        return isinstance(exc, psycopg.OperationalError | psycopg.InternalError)

    def _reader(self):
        return self.pool.connection()

    def _writer(self):
        return self.pool.connection()

    def _execute(self, conn, sql, params):
        cur = conn.execute(sql.replace("?", "%s"), params)
        if cur.description is None:
            return []
        return cur.fetchall()

    def _execute_many(self, conn, sql, rows):
        """Many rows of one INSERT. A plain INSERT becomes a COPY, which streams the rows in
        one operation; an INSERT ... ON CONFLICT goes through executemany's pipeline."""
        if not rows:
            return
        if " ON CONFLICT " in sql:
            with conn.cursor() as cur:
                cur.executemany(sql.replace("?", "%s"), rows)
            return
        target = sql[len("INSERT INTO ") : sql.index(" VALUES")]
        with conn.cursor() as cur, cur.copy("COPY %s FROM STDIN" % target) as copy:
            for row in rows:
                copy.write_row(row)

    @contextlib.contextmanager
    def _snapshot(self, conn):
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def _transaction(self, conn, sequencer=False):
        return _PgTransaction(conn, sequencer)

    def backup(self, out):
        """pg_dump's custom format of the logger's schema into the file `out` (one
        consistent snapshot; pg_restore puts it back)."""
        import shutil
        import subprocess

        target = Path(out)
        if target.exists():
            raise StorageError("%s exists: a backup never overwrites a file" % target)
        tool = shutil.which("pg_dump")
        if tool is None:
            raise StorageError("pg_dump is not installed: it backs up a PostgreSQL logger")
        schema = self.one("SELECT current_schema()")[0]
        url, password = _plain_url(self.url)
        # The password goes to pg_dump in its environment: on its command line, anyone on the
        # machine would read it with ps.
        env = dict(os.environ, PGPASSWORD=password) if password else None
        done = subprocess.run(
            [tool, "--format=custom", "--schema", schema, "--file", str(target), url],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
        if done.returncode != 0:
            target.unlink(missing_ok=True)
            raise StorageError("pg_dump failed: %s" % _first_line(done.stderr))

    def close(self):
        self.pool.close()


def _configure(conn):
    """Plan every statement for its own parameters.

    psycopg prepares a statement after its fifth execution, and PostgreSQL then switches to a
    generic plan once that looks no costlier than the custom ones. For the appender's VALUES
    joins (storage/batch.py) the generic plan does not know the list's few hundred pairs, and
    it joins every row of `leaves` instead of seeking the index for each pair: in a direct
    measurement of batches of 200 records, `first_leaves` took 2 ms a batch at 5,000 leaves
    and 16.5 ms at 60,000, growing with the log, which is the decay a sustained load showed
    (`icpurse bench logger --duration`). Custom plans stayed at 1.7 to 2.3 ms from 5,000 to
    40,000 leaves; planning each statement costs well under a millisecond a batch.
    """
    conn.execute("SET plan_cache_mode = force_custom_plan")


class _PgTransaction:
    def __init__(self, conn, sequencer):
        self.conn = conn
        self.sequencer = sequencer
        self._tx = None

    def __enter__(self):
        self._tx = self.conn.transaction()
        self._tx.__enter__()
        if self.sequencer:
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (SEQUENCER_LOCK,))

    def __exit__(self, exc_type, exc, tb):
        return self._tx.__exit__(exc_type, exc, tb)


def _plain_url(url):
    """(`url` without libpq options, such as a search_path, which pg_dump would apply to its own
    session, the schema being named to it instead, and without its password; the password or
    None)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "options"]
    netloc = parts.netloc
    if parts.password is not None:
        netloc = "%s@%s" % (parts.username, netloc.rsplit("@", 1)[1])
    plain = parts._replace(netloc=netloc, query=urllib.parse.urlencode(query))
    return urllib.parse.urlunsplit(plain), parts.password
