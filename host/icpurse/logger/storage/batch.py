"""The appender's queries: what a batch of records needs from the database, in one query per
kind rather than one per record (each query is a round trip to a PostgreSQL server).

`BatchReads` needs `all`, as the sequencer's transaction has it.
"""

from icpurse.logger.storage.rows import StoredLeaf

# The joins of a batch's (payer key, counter) pairs with the log: "%s" takes the VALUES list,
# JOIN the dialect's join keyword (_joined).
_FIRST_LEAVES = (
    "SELECT l.payer_key, l.counter, MIN(l.leaf_index) FROM (VALUES %s) AS w JOIN leaves AS l"
    " ON l.payer_key = w.column1 AND l.counter = w.column2 GROUP BY l.payer_key, l.counter"
)
_JOURNALLED = (
    "SELECT p.payer_key, p.counter, p.payment_key FROM (VALUES %s) AS w JOIN payments AS p"
    " ON p.payer_key = w.column1 AND p.counter = w.column2"
)


class BatchReads:
    def stored_leaves(self, identities):
        """{identity: StoredLeaf} of the leaves stored under any of `identities`."""
        rows = _rows_in(self, "SELECT identity, leaf_index, record_hash, receipt, amount"
                              " FROM leaves WHERE identity IN (%s)", identities)  # fmt: skip
        return {bytes(r[0]): StoredLeaf._make(r[1:]) for r in rows}

    def extended_leaves(self, identity, suffix_size):
        """The StoredLeaf rows stored under `identity` extended by `suffix_size` bytes (a
        payer's other amount for one challenge). The extended keys of an identity sort right
        after it, so the unique index on the key answers this range."""
        rows = self.all(
            "SELECT leaf_index, record_hash, receipt, amount FROM leaves"
            " WHERE identity > ? AND identity <= ?",
            (identity, identity + b"\xff" * suffix_size),
        )
        return [StoredLeaf._make(r) for r in rows]

    def settled_kinds(self, payment_keys):
        """{payment key: kind} of those of `payment_keys` that are settled."""
        rows = _rows_in(self, "SELECT payment_key, kind FROM settlements"
                              " WHERE payment_key IN (%s)", payment_keys)  # fmt: skip
        return {bytes(r[0]): r[1] for r in rows}

    def revocation_times(self, card_ids):
        """{card id: L-time the logger learned of its revocation} of the revoked `card_ids`."""
        rows = _rows_in(
            self, "SELECT card_id, ltime FROM revoked_cards WHERE card_id IN (%s)", card_ids
        )
        return {bytes(r[0]): r[1] for r in rows}

    def cards_with_vouchers(self, card_ids):
        """Those of `card_ids` that a voucher names."""
        rows = _rows_in(
            self, "SELECT DISTINCT card_id FROM vouchers WHERE card_id IN (%s)", card_ids
        )
        return {bytes(r[0]) for r in rows}

    def first_leaves(self, pairs):
        """{(payer key, counter): first leaf index} of the (payer key, counter) `pairs` that
        leaves used. A counter used twice (a clone) names its first leaf."""
        # A join with a VALUES list, answered from the index on (payer_key, counter); SQLite
        # scans the table for a row-value IN.
        rows = _rows_in(self, _joined(self, _FIRST_LEAVES), pairs)
        return {(bytes(r[0]), r[1]): r[2] for r in rows}

    def journalled_keys(self, pairs):
        """{(payer key, counter): {payment keys}} of the journalled payments with any of the
        (payer key, counter) `pairs`."""
        journalled = {}
        for r in _rows_in(
            self,
            _joined(self, _JOURNALLED),
            pairs,
        ):
            journalled.setdefault((bytes(r[0]), r[1]), set()).add(bytes(r[2]))
        return journalled


def _joined(tx, sql):
    """The join of a VALUES list with a table, seeking the table's index for each row of the
    list. SQLite's planner, past a few dozen rows in the list, scans the whole index of the
    table instead and looks each entry up in an automatic index of the list: in the appender,
    with batches of 200 records, `first_leaves` took 31 ms a batch at 35,000 leaves and 52 ms
    at 60,000, growing with the log; with the list outside it stays under 0.3 ms. CROSS JOIN is
    SQLite's way of fixing the order of the loops (the list outside); PostgreSQL plans its
    plain JOIN for each batch (postgres.py)."""
    return sql.replace(" JOIN ", " CROSS JOIN ") if tx.dialect == "sqlite" else sql


def _rows_in(tx, sql, values, chunk=400):
    """Rows of `sql`, whose "IN (%s)" takes `values`, queried `chunk` values at a time. Values
    that are tuples fill a "VALUES %s" list instead, with (?, ?) for each."""
    rows = []
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        # Padded with its last value to a power of two, so that each query has a few shapes
        # only: SQLite's statement cache and psycopg's prepared statements are keyed by the
        # text, which would otherwise differ with every batch size. A repeated value changes
        # no answer (callers build dicts or sets of the rows).
        part = part + part[-1:] * (min(chunk, 1 << (len(part) - 1).bit_length()) - len(part))
        if isinstance(part[0], tuple):
            marks = ", ".join("(%s)" % ", ".join("?" * len(v)) for v in part)
            params = tuple(x for v in part for x in v)
        else:
            marks = ", ".join("?" * len(part))
            params = tuple(part)
        rows += tx.all(sql % marks, params)
    return rows
