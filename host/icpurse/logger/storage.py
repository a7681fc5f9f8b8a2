"""The logger's storage: one interface, an SQLite file by default, PostgreSQL to scale out.

`open_storage(url)` takes `sqlite:///path/to/file.db` (or a plain path) or
`postgresql://user@host:port/db`. Both dialects share the queries below (written with `?`
placeholders; PostgreSQL gets `%s`) and have their own versioned migrations, applied at open
and recorded in the table `schema_version`.

Writes happen only in `append` (the sequencer's one transaction per batch) and in the small
feeds (vouchers, revocation lists, checkpoints, heartbeat); everything else reads.

A database that fails under a running service (a file damaged or deleted, a disk full or
failing, a PostgreSQL server restarted or gone) raises DatabaseFailure with the driver's
reason from every one of these calls; its transaction is rolled back, and the service answers
503 with that reason. Errors that mean a bug in a query are not turned into it.
"""

import contextlib
import fcntl
import sqlite3
import threading
import urllib.parse
from pathlib import Path

from icpurse.authority.db import transaction
from icpurse.errors import UsageError

# WAL pages after which a commit checkpoints by itself (SQLite's default is 1000).
WAL_FALLBACK_PAGES = 20000


class StorageError(UsageError):
    """The database cannot be opened or is not an icpurse logger database."""


class DatabaseFailure(Exception):
    """The database failed under the running service; the message is the driver's reason."""

    # It holds no key or record, so a worker process passes it on (workers.describe).
    MESSAGE_IS_PUBLIC = True


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


# The schema, once: %(blob)s, %(big)s and %(serial)s become each dialect's types below.
MIGRATIONS = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value %(blob)s NOT NULL);
    CREATE TABLE leaves (
        leaf_index %(big)s PRIMARY KEY,
        identity %(blob)s NOT NULL UNIQUE,
        record %(blob)s NOT NULL,
        record_hash %(blob)s NOT NULL,
        payer_key %(blob)s NOT NULL,
        payer_id %(blob)s NOT NULL,
        counter %(big)s NOT NULL,
        recipient_id %(blob)s NOT NULL,
        amount %(big)s NOT NULL,
        ltime %(big)s NOT NULL,
        receipt %(blob)s NOT NULL,
        UNIQUE (payer_key, counter)
    );
    CREATE INDEX leaves_payer ON leaves (payer_id);
    CREATE INDEX leaves_recipient ON leaves (recipient_id);
    CREATE TABLE nodes (
        level INTEGER NOT NULL,
        idx %(big)s NOT NULL,
        hash %(blob)s NOT NULL,
        PRIMARY KEY (level, idx)
    );
    CREATE TABLE evidence (
        id %(serial)s,
        kind TEXT NOT NULL,
        identity %(blob)s NOT NULL,
        payer_id %(blob)s NOT NULL,
        record %(blob)s NOT NULL,
        conflicts_with %(big)s NOT NULL,
        ltime %(big)s NOT NULL
    );
    CREATE TABLE vouchers (
        card_id %(blob)s NOT NULL,
        sequence %(big)s NOT NULL,
        issued %(big)s NOT NULL,
        public_key %(blob)s NOT NULL,
        record %(blob)s NOT NULL,
        PRIMARY KEY (card_id, sequence)
    );
    CREATE TABLE revocations (sequence %(big)s PRIMARY KEY, record %(blob)s NOT NULL);
    CREATE TABLE checkpoints (
        tree_size %(big)s PRIMARY KEY,
        root %(blob)s NOT NULL,
        record %(blob)s NOT NULL
    );
    CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), ltime %(big)s NOT NULL);
    """,
    """
    CREATE TABLE payments (
        identity %(blob)s PRIMARY KEY,
        payer_id %(blob)s NOT NULL,
        payer_key %(blob)s NOT NULL,
        counter %(big)s NOT NULL,
        amount %(big)s NOT NULL,
        record %(blob)s NOT NULL,
        seen %(big)s NOT NULL
    );
    CREATE INDEX payments_payer ON payments (payer_id);
    CREATE INDEX payments_counter ON payments (payer_key, counter);
    CREATE TABLE settlements (
        identity %(blob)s PRIMARY KEY,
        payer_id %(blob)s NOT NULL,
        amount %(big)s NOT NULL,
        kind TEXT NOT NULL,
        voucher_sequence %(big)s,
        ltime %(big)s NOT NULL
    );
    CREATE TABLE recoveries (
        card_id %(blob)s PRIMARY KEY,
        successor %(blob)s NOT NULL,
        amount %(big)s NOT NULL,
        shortfall %(big)s NOT NULL,
        statement %(blob)s NOT NULL,
        ltime %(big)s NOT NULL,
        voucher_sequence %(big)s
    );
    CREATE TABLE revoked_cards (card_id %(blob)s PRIMARY KEY, ltime %(big)s NOT NULL);
    ALTER TABLE vouchers ADD COLUMN reason TEXT NOT NULL DEFAULT 'load';
    ALTER TABLE vouchers ADD COLUMN reference %(blob)s
    """,
)
# Schema 3 is protocol 2: a payer counter may stand in two leaves (a clone's second payment is
# credited to its honest recipient, docs/PROTOCOL.md section 7.3), so the unique constraint on
# (payer_key, counter) becomes a plain index (SQLite drops a constraint only by rebuilding the
# table); the newest stamp of each card (section 7.0); and journalled payments and their
# settlements are named by their payment key, PkUA || ChallID || G1 || ctrA, since a payer may
# sign one challenge twice (section 7.1). A database of schema 2 is migrated only while it holds
# no record (see PROTOCOL_2_SCHEMA), so those two tables are empty and are made anew.
_PAYMENTS_3 = """
    CREATE TABLE payments (
        payment_key %(blob)s PRIMARY KEY,
        identity %(blob)s NOT NULL,
        payer_id %(blob)s NOT NULL,
        payer_key %(blob)s NOT NULL,
        counter %(big)s NOT NULL,
        amount %(big)s NOT NULL,
        record %(blob)s NOT NULL,
        seen %(big)s NOT NULL,
        shown %(big)s NOT NULL
    );
    CREATE INDEX payments_payer ON payments (payer_id);
    CREATE INDEX payments_counter ON payments (payer_key, counter);
    CREATE TABLE settlements (
        payment_key %(blob)s PRIMARY KEY,
        payer_id %(blob)s NOT NULL,
        amount %(big)s NOT NULL,
        kind TEXT NOT NULL,
        voucher_sequence %(big)s,
        ltime %(big)s NOT NULL
    )
"""
_LEAVES_3_SQLITE = (
    """
    CREATE TABLE leaves_3 (
        leaf_index INTEGER PRIMARY KEY,
        identity BLOB NOT NULL UNIQUE,
        record BLOB NOT NULL,
        record_hash BLOB NOT NULL,
        payer_key BLOB NOT NULL,
        payer_id BLOB NOT NULL,
        counter INTEGER NOT NULL,
        recipient_id BLOB NOT NULL,
        amount INTEGER NOT NULL,
        ltime INTEGER NOT NULL,
        receipt BLOB NOT NULL
    );
    INSERT INTO leaves_3 SELECT leaf_index, identity, record, record_hash, payer_key, payer_id,
        counter, recipient_id, amount, ltime, receipt FROM leaves;
    DROP TABLE leaves;
    ALTER TABLE leaves_3 RENAME TO leaves;
    CREATE INDEX leaves_payer ON leaves (payer_id);
    CREATE INDEX leaves_recipient ON leaves (recipient_id);
    CREATE INDEX leaves_counter ON leaves (payer_key, counter);
    CREATE TABLE stamps (
        card_id BLOB PRIMARY KEY,
        counter INTEGER NOT NULL,
        ltime INTEGER NOT NULL,
        record BLOB NOT NULL
    );
    DROP TABLE payments;
    DROP TABLE settlements;
"""
    + _PAYMENTS_3 % {"blob": "BLOB", "big": "INTEGER"}
)
_LEAVES_3_POSTGRES = (
    """
    ALTER TABLE leaves DROP CONSTRAINT leaves_payer_key_counter_key;
    CREATE INDEX leaves_counter ON leaves (payer_key, counter);
    CREATE TABLE stamps (
        card_id BYTEA PRIMARY KEY,
        counter BIGINT NOT NULL,
        ltime BIGINT NOT NULL,
        record BYTEA NOT NULL
    );
    DROP TABLE payments;
    DROP TABLE settlements;
"""
    + _PAYMENTS_3 % {"blob": "BYTEA", "big": "BIGINT"}
)
# The first schema version whose records are of protocol 2; a database of an older schema
# that holds any record is refused, since protocol-1 records cannot be read by this code.
PROTOCOL_2_SCHEMA = 3

MIGRATIONS_SQLITE = (
    *(
        m % {"blob": "BLOB", "big": "INTEGER", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"}
        for m in MIGRATIONS
    ),
    _LEAVES_3_SQLITE,
)
MIGRATIONS_POSTGRES = (
    *(
        m % {"blob": "BYTEA", "big": "BIGINT", "serial": "BIGSERIAL PRIMARY KEY"}
        for m in MIGRATIONS
    ),
    _LEAVES_3_POSTGRES,
)


def shown(url):
    """`url` as messages show it: a PostgreSQL password becomes ***."""
    parts = urllib.parse.urlsplit(str(url))
    if parts.password is None:
        return str(url)
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc="%s:***@%s" % (parts.username, host)))


def open_storage(url):
    """A Storage for `url`: sqlite:///path, a plain path, or postgresql://..."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from icpurse.logger.postgres import PostgresStorage

        return PostgresStorage(text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        raise StorageError(
            "unsupported database URL %r: use sqlite:///PATH or postgresql://" % url
        )
    return SQLiteStorage(text)


class Storage:
    """What the service and the sequencer need; each dialect provides `_connection()`,
    `_execute(conn, sql, params)` and `_transaction(conn)`."""

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

    def tree_size(self):
        row = self.one("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM leaves")
        return row[0]

    def node_getter(self):
        """A `get(level, index)` over committed nodes, for Merkle roots and proofs."""

        def get(level, index):
            row = self.one("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index))
            if row is None:
                raise KeyError((level, index))
            return bytes(row[0])

        return get

    def meta(self, key):
        row = self.one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else bytes(row[0])

    # --- writes ---------------------------------------------------------------------------------

    def write(self, statements):
        """Run (sql, params) statements in one durable transaction."""
        with self._failures(), self._writer() as conn, self._transaction(conn):
            for sql, params in statements:
                self._execute(conn, sql, params)

    def checkpoint_wal(self):
        """Only SQLite keeps a write-ahead log that its owner checkpoints."""

    def append(self, work):
        """Run `work(tx)` in the sequencer's transaction; `tx` has `one`, `all` and `run`.

        For PostgreSQL the transaction first takes an advisory lock, so only one sequencer
        among all service workers appends at a time; SQLite's BEGIN IMMEDIATE does the same.
        """
        with self._failures(), self._writer() as conn, self._transaction(conn, sequencer=True):
            return work(_Tx(self, conn))


class _Tx:
    def __init__(self, storage, conn):
        self._storage = storage
        self._conn = conn

    def all(self, sql, params=()):
        return self._storage._execute(self._conn, sql, params)

    def one(self, sql, params=()):
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def run(self, sql, params=()):
        self._storage._execute(self._conn, sql, params)

    def run_many(self, sql, rows):
        self._storage._execute_many(self._conn, sql, rows)


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
            _migrate(self, conn, MIGRATIONS_SQLITE)
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

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


def _holds_records(conn, execute, version):
    """Whether a database of schema `version` holds any record (payments came in schema 2)."""
    tables = ("vouchers", "leaves", "payments") if version >= 2 else ("vouchers", "leaves")
    # The table names are the fixed ones above.
    return any(execute(conn, "SELECT 1 FROM %s LIMIT 1" % t, ()) for t in tables)  # noqa: S608


def _migrate(storage, conn, migrations):
    """Bring the schema to the newest version in one locked transaction (several service
    workers may start at once); refuse a database newer than this code."""
    execute = storage._execute
    with storage._transaction(conn, sequencer=True):
        execute(conn, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", ())
        rows = execute(conn, "SELECT version FROM schema_version", ())
        version = rows[0][0] if rows else 0
        if version > len(migrations):
            raise StorageError(
                "the database has schema version %d; this icpurse knows %d"
                % (version, len(migrations))
            )
        if 0 < version < PROTOCOL_2_SCHEMA and _holds_records(conn, execute, version):
            raise StorageError(
                "the database holds records of icpurse protocol 1 (schema version %d), which "
                "this icpurse cannot read: start a new log database" % version
            )
        for number in range(version, len(migrations)):
            for statement in migrations[number].split(";"):
                if statement.strip():
                    execute(conn, statement, ())
        if version == 0:
            execute(conn, "INSERT INTO schema_version (version) VALUES (?)", (len(migrations),))
        elif version < len(migrations):
            execute(conn, "UPDATE schema_version SET version = ?", (len(migrations),))
