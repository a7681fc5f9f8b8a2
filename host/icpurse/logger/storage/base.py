"""The storage interface the logger's service and sequencer use, whatever the database.

A database that fails under a running service (a file damaged or deleted, a disk full or
failing, a PostgreSQL server restarted or gone) raises DatabaseFailure with the driver's
reason from every one of these calls; its transaction is rolled back, and the service answers
503 with that reason. Errors that mean a bug in a query are not turned into it.
"""

import contextlib
import urllib.parse

from icpurse.errors import UsageError
from icpurse.logger.storage.batch import BatchReads
from icpurse.logger.storage.log import LogFeeds, LogReads, LogWrites
from icpurse.logger.storage.settlement import SettlementReads, SettlementWrites
from icpurse.logger.storage.tables import TableReads


class StorageError(UsageError):
    """The database cannot be opened or is not an icpurse logger database."""


class DatabaseFailure(Exception):
    """The database failed under the running service; the message is the driver's reason."""

    # It holds no key or record, so a worker process passes it on (workers.describe).
    MESSAGE_IS_PUBLIC = True


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


def shown(url):
    """`url` as messages show it: a PostgreSQL password becomes ***."""
    parts = urllib.parse.urlsplit(str(url))
    if parts.password is None:
        return str(url)
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc="%s:***@%s" % (parts.username, host)))


class Storage(LogReads, LogFeeds, SettlementReads, TableReads):
    """What the service and the sequencer need; each dialect provides `_connection()`,
    `_execute(conn, sql, params)` and `_transaction(conn)`. The named queries come from the
    mixins (log.py, settlement.py, tables.py); `one` and `all` run any read on its own."""

    # --- reads ----------------------------------------------------------------------------------

    def one(self, sql, params=()):
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def all(self, sql, params=()):
        with self._failures():
            with self._reader() as conn:
                return self._execute(conn, sql, params)

    @contextlib.contextmanager
    def _failures(self):
        """Turn the driver's errors that mean a failed database into DatabaseFailure."""
        try:
            yield
        except StorageError as exc:
            # A new connection, opened under the running service, found the file damaged.
            raise DatabaseFailure(str(exc)) from None
        except Exception as exc:
            if not self._is_failure(exc):
                raise
            # A connection that met a failure may keep failing after the database is mended
            # (SQLite keeps saying "file is not a database"); the next call opens a new one.
            self._drop_connection()
            raise DatabaseFailure(_first_line(exc)) from None

    def _is_failure(self, exc):
        """Whether the driver's exception `exc` means a failed database, not a bug."""
        return False

    def _drop_connection(self):
        """Forget this thread's connection (PostgreSQL's pool drops broken ones itself)."""

    def snapshot(self, work):
        """Run `work(tx)` on one consistent read snapshot of the database, beside the
        sequencer rather than behind it: appends go on meanwhile (SQLite's write-ahead log,
        PostgreSQL's REPEATABLE READ), and `work` sees none of them. `work` only reads."""
        with self._failures(), self._reader() as conn, self._snapshot(conn):
            return work(_Tx(self, conn))

    # --- writes ---------------------------------------------------------------------------------

    def write(self, statements):
        """Run (sql, params) statements in one durable transaction."""
        with self._failures(), self._writer() as conn, self._transaction(conn):
            for sql, params in statements:
                self._execute(conn, sql, params)

    def checkpoint_wal(self):
        """Only SQLite keeps a write-ahead log that its owner checkpoints."""

    def append(self, work):
        """Run `work(tx)` in the sequencer's transaction; `tx` has `one`, `all`, `run` and the
        named queries.

        For PostgreSQL the transaction first takes an advisory lock, so only one sequencer
        among all service workers appends at a time; SQLite's BEGIN IMMEDIATE does the same.
        """
        with self._failures(), self._writer() as conn, self._transaction(conn, sequencer=True):
            return work(_Tx(self, conn))


class _Tx(LogReads, LogWrites, SettlementReads, SettlementWrites, BatchReads):
    """The sequencer's transaction, with the named queries of the mixins that run in it."""

    def __init__(self, storage, conn):
        self._storage = storage
        self._conn = conn
        self.dialect = storage.dialect

    def all(self, sql, params=()):
        return self._storage._execute(self._conn, sql, params)

    def one(self, sql, params=()):
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def run(self, sql, params=()):
        self._storage._execute(self._conn, sql, params)

    def run_many(self, sql, rows):
        self._storage._execute_many(self._conn, sql, rows)
