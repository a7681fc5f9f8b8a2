"""The logger's schema: versioned migrations for SQLite and PostgreSQL, applied when a storage
opens and recorded in the table `schema_version`."""

import os

from icpurse.logger.storage.base import StorageError
from icpurse.logger.storage.log import GENESIS

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
# Schema 4: a piece of evidence is stored once (issue 22, problem 7). Every sync of a clone's
# recipient, or of the clone, sent the same payment again and each stored another copy. The
# evidence is named by its kind, the payment's identity, the leaf it conflicts with and the
# payer's signature S over the payment: one payment that reached the logger both in a log record
# and in a journal is one piece, while two records of one identity that differ (another
# amount, signed apart) stay two. A unique index, not a check in the rules, since journals and
# the appender write in transactions of their own. Rows of an older schema have no signature
# (NULL, which a unique index never matches): they stay as they are, and the database opens.
_EVIDENCE_4 = """
    ALTER TABLE evidence ADD COLUMN signature %(blob)s;
    CREATE UNIQUE INDEX evidence_once ON evidence (kind, identity, conflicts_with, signature)
"""
# Schema 5 is protocol 3 (issue 22, problem 8): the log has an identity, the log id, which
# every record L signs and every voucher names. It is made from PkL and the genesis, random
# bytes drawn once when the database is made (or brought to schema 5) and kept in the meta
# table beside the trust anchors: two loggers that share a key but not a database are two logs.
# A database of schema 4 is migrated only while it holds no record (see PROTOCOL_3_SCHEMA);
# its checkpoints, of protocol 2 and of an empty tree, are dropped and signed anew.
_GENESIS_5 = "DELETE FROM checkpoints"
GENESIS_SIZE = 16
# Schema 6: what each card received and paid by log records, kept by the appender in the
# transaction that adds the leaves (issue 22: the ledger summed every leaf of every card on
# each read, which took CPU from the appends as the log grew). Leaves are never changed or
# removed, so a running sum is exact; the audit recomputes it from the records and compares.
# The payer index gains the counter, so that a card's payments between two counters (the
# alerts leave out those a stamp allows) are summed from the index alone.
_FLOWS_6 = """
    CREATE TABLE card_flows (
        card_id %(blob)s PRIMARY KEY,
        received %(big)s NOT NULL,
        paid %(big)s NOT NULL
    );
    INSERT INTO card_flows (card_id, received, paid)
        SELECT card_id, SUM(received), SUM(paid) FROM (
            SELECT recipient_id AS card_id, amount AS received, 0 AS paid FROM leaves
            UNION ALL SELECT payer_id, 0, amount FROM leaves
        ) AS flows GROUP BY card_id;
    DROP INDEX leaves_payer;
    CREATE INDEX leaves_payer ON leaves (payer_id, counter, amount)
"""
# The first schema version whose records are of protocol 2; a database of an older schema
# that holds any record is refused, since protocol-1 records cannot be read by this code.
PROTOCOL_2_SCHEMA = 3
# Likewise the first of protocol 3, whose records name their log.
PROTOCOL_3_SCHEMA = 5

MIGRATIONS_SQLITE = (
    *(
        m % {"blob": "BLOB", "big": "INTEGER", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"}
        for m in MIGRATIONS
    ),
    _LEAVES_3_SQLITE,
    _EVIDENCE_4 % {"blob": "BLOB"},
    _GENESIS_5,
    _FLOWS_6 % {"blob": "BLOB", "big": "INTEGER"},
)
MIGRATIONS_POSTGRES = (
    *(
        m % {"blob": "BYTEA", "big": "BIGINT", "serial": "BIGSERIAL PRIMARY KEY"}
        for m in MIGRATIONS
    ),
    _LEAVES_3_POSTGRES,
    _EVIDENCE_4 % {"blob": "BYTEA"},
    _GENESIS_5,
    _FLOWS_6 % {"blob": "BYTEA", "big": "BIGINT"},
)


def _holds_records(conn, execute, version):
    """Whether a database of schema `version` holds any record (payments came in schema 2,
    stamps in schema 3); revocation lists are the CA's records."""
    tables = ("vouchers", "leaves", "revocations")
    if version >= 2:
        tables += ("payments",)
    if version >= PROTOCOL_2_SCHEMA:
        tables += ("stamps",)
    # The table names are the fixed ones above.
    return any(execute(conn, "SELECT 1 FROM %s LIMIT 1" % t, ()) for t in tables)  # noqa: S608


def migrate(storage, conn, migrations):
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
        if 0 < version < PROTOCOL_3_SCHEMA and _holds_records(conn, execute, version):
            raise StorageError(
                "the database holds records of icpurse protocol 2 (schema version %d), which "
                "this icpurse cannot read: start a new log database" % version
            )
        for number in range(version, len(migrations)):
            for statement in migrations[number].split(";"):
                if statement.strip():
                    execute(conn, statement, ())
        if version < PROTOCOL_3_SCHEMA:
            # Drawn here, in the migration's locked transaction: workers starting at once on a
            # new database agree on one genesis, and it never changes afterwards.
            execute(
                conn, "INSERT INTO meta (key, value) VALUES (?, ?)",
                (GENESIS, os.urandom(GENESIS_SIZE)),
            )  # fmt: skip
        if version == 0:
            execute(conn, "INSERT INTO schema_version (version) VALUES (?)", (len(migrations),))
        elif version < len(migrations):
            execute(conn, "UPDATE schema_version SET version = ?", (len(migrations),))
