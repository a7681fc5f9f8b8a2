"""The logger's SQLite storage: a file in WAL mode, one connection per thread, and a lock
file that serialises the sequencers of several service workers."""

import contextlib
import fcntl
import sqlite3
import threading
from pathlib import Path

from icpurse.authority.db import transaction
from icpurse.logger.storage.base import Storage, StorageError
from icpurse.logger.storage.migrations import MIGRATIONS_SQLITE, migrate

# WAL pages after which a commit checkpoints by itself (SQLite's default is 1000).
WAL_FALLBACK_PAGES = 20000


class _Borrowed:
    """Context manager for a connection that stays with its owner (thread-local SQLite)."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        return False


class SQLiteStorage(Storage):
    """An SQLite file in WAL mode with synchronous=FULL: a commit is on disk when it returns."""

    dialect = "sqlite"

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise StorageError(
                "cannot open %s: there is no directory %s" % (self.path, self.path.parent)
            )
        self.url = "sqlite:///%s" % self.path.resolve()
        self._local = threading.local()
        self._write_lock = threading.Lock()
        conn = self._connection()
        try:
            migrate(self, conn, MIGRATIONS_SQLITE)
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

    def backup(self, out):
        """Copy the database to the file `out` while the logger runs: SQLite's online backup
        copies one consistent state, the write-ahead log's committed pages included."""
        target = Path(out)
        if target.exists():
            raise StorageError("%s exists: a backup never overwrites a file" % target)
        with self._failures():
            source = sqlite3.connect(self.path)
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
                source.close()

    def _unusable(self, exc):
        """The StorageError for a file that could not be opened or read as a database."""
        if isinstance(exc, sqlite3.OperationalError):
            # Not the file's content: it cannot be opened or read (permissions, I/O, a lock).
            return StorageError("cannot open %s: %s" % (self.path, exc))
        return StorageError("%s is damaged or not a database: %s" % (self.path, exc))

    def _connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            except sqlite3.DatabaseError as exc:
                raise self._unusable(exc) from None
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                # The service copies the WAL into the database on a thread of its own
                # (checkpoint_wal); a commit checkpoints only if that falls far behind, since a
                # checkpoint inside a commit holds up every append waiting for the sequencer.
                conn.execute("PRAGMA wal_autocheckpoint=%d" % WAL_FALLBACK_PAGES)
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise self._unusable(exc) from None
            self._local.conn = conn
        return conn

    @staticmethod
    def _is_failure(exc):
        # sqlite3 raises DatabaseError itself for a damaged file ("file is not a database",
        # "database disk image is malformed") and OperationalError for I/O, a full disk or a
        # deleted file; its other subclasses (ProgrammingError, IntegrityError...) are bugs.
        return type(exc) in (sqlite3.DatabaseError, sqlite3.OperationalError)

    def checkpoint_wal(self):
        """Copy committed pages from the WAL into the database without blocking writers."""
        with self._failures():
            self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _drop_connection(self):
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _reader(self):
        return _Borrowed(self._connection())

    def _writer(self):
        return _Borrowed(self._connection())

    def _execute(self, conn, sql, params):
        return conn.execute(sql, params).fetchall()

    def _execute_many(self, conn, sql, rows):
        conn.executemany(sql, rows)

    @contextlib.contextmanager
    def _snapshot(self, conn):
        # A deferred transaction: its first read fixes the snapshot it sees in the WAL, and it
        # takes no lock that a writer waits for.
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")

    def _transaction(self, conn, sequencer=False):
        if sequencer:
            return _sequenced(self._sequencer_lock(), conn)
        return transaction(conn)

    def _sequencer_lock(self):
        """This thread's handle on the lock file, opened once: flock() excludes other open
        handles, in this process or another, never the handle that holds it."""
        handle = getattr(self._local, "lock", None)
        if handle is None:
            # Kept open for the thread's life, and closed with its connection.
            handle = open(self.path.with_name(self.path.name + "-sequencer.lock"), "a+b")
            self._local.lock = handle
        return handle

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        lock = getattr(self._local, "lock", None)
        if lock is not None:
            lock.close()
            self._local.lock = None


@contextlib.contextmanager
def _sequenced(handle, conn):
    """The sequencer's transaction, behind an exclusive lock on a file beside the database.

    Several service workers append to one SQLite file. BEGIN IMMEDIATE alone would serialise
    them too, but a writer that finds the database busy sleeps in steps of up to 100 ms before
    it tries again; a waiter on flock() is woken the moment the lock is released. The kernel
    drops the lock when its holder dies, so a killed worker never leaves it behind.
    """
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        with transaction(conn):
            yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
