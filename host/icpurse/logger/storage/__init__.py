"""The logger's storage, and all of its SQL: one interface, an SQLite file by default,
PostgreSQL to scale out.

`open_storage(url)` takes `sqlite:///path/to/file.db` (or a plain path) or
`postgresql://user@host:port/db`. Both dialects share the queries (written with `?`
placeholders; PostgreSQL gets `%s`) and have their own versioned migrations (migrations.py),
applied at open and recorded in the table `schema_version`.

Writes happen only in `append` (the sequencer's one transaction per batch) and in the small
feeds (vouchers, revocation lists, checkpoints, heartbeat); everything else reads.
"""

from icpurse.logger.storage.base import DatabaseFailure, Storage, StorageError, shown
from icpurse.logger.storage.sqlite import SQLiteStorage

__all__ = ["DatabaseFailure", "Storage", "StorageError", "open_storage", "shown"]


def open_storage(url):
    """A Storage for `url`: sqlite:///path, a plain path, or postgresql://..."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from icpurse.logger.storage.postgres import PostgresStorage

        return PostgresStorage(text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        raise StorageError(
            "unsupported database URL %r: use sqlite:///PATH or postgresql://" % url
        )
    return SQLiteStorage(text)
