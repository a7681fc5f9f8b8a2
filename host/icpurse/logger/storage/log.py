"""The queries of the log itself: leaves, Merkle nodes, checkpoints, evidence, trust anchors,
revocations and the heartbeat.

`LogReads` needs `one` and `all`, which both a Storage (each read on its own) and the
sequencer's transaction have; `LogWrites` needs the transaction's `run` and `run_many`;
`LogFeeds` writes through `Storage.write`, in a transaction of its own.
"""

from icpurse.logger.storage.rows import CardLeaf, Evidence, LeafEntry, NewLeaf
from purse.records.checkpoint import log_id

# The meta row of the genesis, the random bytes the database was made with (migrations.py).
GENESIS = "genesis"

# An upsert, so that workers writing their heartbeats at once never collide; it never lowers
# the stored L-time, which is the logger's high-water mark (a worker whose clock is behind, or
# was set back, reads it and catches up).
_HEARTBEAT = (
    "INSERT INTO heartbeat (id, ltime) VALUES (1, ?)"
    " ON CONFLICT (id) DO UPDATE SET ltime = CASE WHEN excluded.ltime > heartbeat.ltime"
    " THEN excluded.ltime ELSE heartbeat.ltime END"
)
# The latest L-time stored in a column: heartbeats, receipts (leaves) and stamps. A
# checkpoint keeps its L-time inside its signed record only.
_HIGH_WATER = (
    "SELECT MAX(t) FROM (SELECT MAX(ltime) AS t FROM heartbeat"
    " UNION ALL SELECT MAX(ltime) FROM leaves UNION ALL SELECT MAX(ltime) FROM stamps) AS marks"
)


class LogReads:
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

    def log_id(self, public_key):
        """The log's identity: PkL `public_key` with the genesis drawn when the database was
        made (migrations.py), so that a second database under the same key is another log."""
        return log_id(public_key, self.meta(GENESIS))

    def checkpoint_record(self, tree_size):
        """The signed checkpoint stored for `tree_size`, or None."""
        row = self.one("SELECT record FROM checkpoints WHERE tree_size = ?", (tree_size,))
        return None if row is None else bytes(row[0])

    def leaf(self, index):
        """The LeafEntry at `index`, or None."""
        row = self.one("SELECT record, receipt FROM leaves WHERE leaf_index = ?", (index,))
        return None if row is None else LeafEntry._make(row)

    def card_leaves(self, card_id, after=-1, limit=None):
        """The leaves that `card_id` paid or received after leaf index `after`, as CardLeaf
        rows in log order; at most `limit` of them (None: all)."""
        rows = self.all(
            "SELECT leaf_index, payer_id, recipient_id, amount, counter, ltime FROM leaves"
            " WHERE (payer_id = ? OR recipient_id = ?) AND leaf_index > ? ORDER BY leaf_index"
            " LIMIT ?",
            (card_id, card_id, after, -1 if limit is None else limit),
        )
        return [CardLeaf._make(r) for r in rows]

    def payers(self):
        """Every card that paid, by a leaf or in a journal."""
        # A log record's amount is at least 1, so the cards whose flows paid anything are the
        # cards that paid by a leaf.
        rows = self.all(
            "SELECT card_id FROM card_flows WHERE paid > 0 UNION SELECT payer_id FROM payments"
        )
        return [r[0] for r in rows]

    def evidence(self):
        """Every piece of evidence, as Evidence rows in the order it was stored."""
        rows = self.all(
            "SELECT kind, payer_id, record, conflicts_with, ltime FROM evidence ORDER BY id"
        )
        return [Evidence._make(r) for r in rows]

    def latest_revocation(self):
        row = self.one("SELECT record FROM revocations ORDER BY sequence DESC LIMIT 1")
        return None if row is None else bytes(row[0])

    def is_revoked(self, card_id):
        """Whether any revocation list named the card."""
        row = self.one("SELECT 1 FROM revoked_cards WHERE card_id = ?", (card_id,))
        return row is not None

    def revoked_at(self, card_id):
        """The L-time the logger learned of the card's revocation, or None."""
        row = self.one("SELECT ltime FROM revoked_cards WHERE card_id = ?", (card_id,))
        return None if row is None else row[0]


class LogWrites:
    def add_evidence(self, kind, identity, payer_id, record, conflicts_with, signature, ltime):
        """Store a piece of evidence, unless it is already stored: the same kind, identity,
        conflicting leaf and payer's signature S (the index evidence_once, schema 4)."""
        self.run(
            "INSERT INTO evidence"
            " (kind, identity, payer_id, record, conflicts_with, signature, ltime)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (kind, identity, payer_id, record, conflicts_with, signature, ltime),
        )

    def add_leaves(self, leaves):
        """Insert NewLeaf rows, and add their amounts to the card_flows of their payers and
        recipients in the same transaction (schema 6)."""
        self.run_many(
            "INSERT INTO leaves (leaf_index, identity, record, record_hash, payer_key, payer_id,"
            " counter, recipient_id, amount, ltime, receipt) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            leaves,
        )
        flows = {}
        for leaf in leaves:
            leaf = NewLeaf._make(leaf)
            received = flows.setdefault(bytes(leaf.recipient_id), [0, 0])
            received[0] += leaf.amount
            paid = flows.setdefault(bytes(leaf.payer_id), [0, 0])
            paid[1] += leaf.amount
        # Sorted by card, so that two transactions could never take the rows' locks in opposite
        # orders (the sequencer's lock already keeps appends one at a time).
        self.run_many(
            "INSERT INTO card_flows (card_id, received, paid) VALUES (?, ?, ?)"
            " ON CONFLICT (card_id) DO UPDATE SET received = card_flows.received"
            " + excluded.received, paid = card_flows.paid + excluded.paid",
            [(card, r, p) for card, (r, p) in sorted(flows.items())],
        )

    def add_nodes(self, nodes):
        """Insert Merkle nodes, (level, index, hash) each."""
        self.run_many("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)

    def add_seen_vouchers(self, vouchers):
        """Record the vouchers that records showed, (card_id, sequence, issued, PkU, record)
        each, unless their row is already there."""
        self.run_many(
            "INSERT INTO vouchers (card_id, sequence, issued, public_key, record)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (card_id, sequence) DO NOTHING",
            vouchers,
        )


class LogFeeds:
    def put_meta(self, key, value):
        """Store a setting unless it is stored already (the caller reads back which won)."""
        self.write(
            [("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
              (key, value))]
        )  # fmt: skip

    def add_checkpoint(self, tree_size, root, record):
        """Store a signed checkpoint, unless one for `tree_size` is already stored."""
        self.write(
            [("INSERT INTO checkpoints (tree_size, root, record) VALUES (?, ?, ?)"
              " ON CONFLICT (tree_size) DO NOTHING", (tree_size, root, record))]
        )  # fmt: skip

    def add_revocation(self, sequence, record, card_ids, ltime):
        """Store a revocation list, and when the logger first learned of each card it names."""
        statements = [("INSERT INTO revocations VALUES (?, ?)", (sequence, record))]
        for card_id in card_ids:
            statements.append(
                ("INSERT INTO revoked_cards (card_id, ltime) VALUES (?, ?)"
                 " ON CONFLICT (card_id) DO NOTHING", (card_id, ltime))
            )  # fmt: skip
        self.write(statements)

    def write_heartbeat(self, ltime):
        self.write([(_HEARTBEAT, (ltime,))])

    def heartbeat_ltime(self):
        """The L-time of the heartbeat row (the highest any worker wrote), 0 before the first."""
        row = self.one("SELECT ltime FROM heartbeat WHERE id = 1")
        return 0 if row is None else int(row[0])

    def ltime_marks(self):
        """(the latest L-time stored in a column, 0 in a new database; the newest checkpoint's
        record or None), from which the service reads its high-water mark."""
        row = self.one(_HIGH_WATER)
        newest = self.one("SELECT record FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
        return (
            0 if row is None or row[0] is None else int(row[0]),
            None if newest is None else bytes(newest[0]),
        )
