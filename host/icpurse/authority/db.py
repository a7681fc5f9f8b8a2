"""The authorities' SQLite databases: durable settings, versioned schema, clear corruption errors.

Each authority passes its list of migrations (SQL scripts); the database records how many it has
applied in `PRAGMA user_version`, so opening an older file brings it up to date and opening a
file of another kind, or a damaged one, fails with a message instead of losing records.
"""

import sqlite3
from pathlib import Path

from icpurse.authority import AuthorityError

# The migration that marks a database as one of protocol 2 (docs/PROTOCOL.md): the records an
# authority signed before it are of protocol 1, which this code cannot read, so an older
# database is refused rather than brought up to date.
PROTOCOL_2 = "INSERT INTO meta (key, value) VALUES ('protocol', '2');"
# Likewise for protocol 3 (vouchers name their log; every record's version is 3): what an
# authority signed before it, certificates and risk parameters included, no card of protocol 3
# reads, so a database from before it is refused too.
PROTOCOL_3 = "UPDATE meta SET value = '3' WHERE key = 'protocol';"


def open_db(path, kind, migrations, create=False):
    """Open (or with `create`, make) the database of authority `kind` at `path`."""
    path = Path(path)
    if not create and not path.exists():
        raise AuthorityError("no %s database at %s (run init first)" % (kind, path))
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        # WAL with FULL synchronisation: a signed record is on disk before it is handed out.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        if not create:
            row = conn.execute("SELECT value FROM meta WHERE key = 'kind'").fetchone()
            if row is None or row[0] != kind:
                raise AuthorityError("%s is not an icpurse %s database" % (path, kind))
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            raise AuthorityError(
                "%s has schema version %d, newer than this icpurse knows (%d)"
                % (path, version, len(migrations))
            )
        for protocol, marker in ((1, PROTOCOL_2), (2, PROTOCOL_3)):
            if 0 < version <= migrations.index(marker):
                raise AuthorityError(
                    "%s holds records of icpurse protocol %d, which this icpurse cannot read:"
                    " init a new %s in another directory" % (path, protocol, kind)
                )
        for number in range(version, len(migrations)):
            # executescript() commits any transaction opened outside it, so the script itself
            # opens the transaction; it stays open until the COMMIT below.
            try:
                conn.executescript("BEGIN IMMEDIATE;\n" + migrations[number])
                conn.execute("PRAGMA user_version = %d" % (number + 1))
                if number == 0:
                    conn.execute("INSERT INTO meta (key, value) VALUES ('kind', ?)", (kind,))
                conn.execute("COMMIT")
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return conn
    except sqlite3.DatabaseError as exc:
        raise AuthorityError("%s is damaged or not a database: %s" % (path, exc)) from None


class transaction:  # noqa: N801 - used as a function: `with transaction(conn):`.
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception, so nothing is half-stored."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                self.conn.execute("ROLLBACK")
                raise
        else:
            self.conn.execute("ROLLBACK")
        return False
