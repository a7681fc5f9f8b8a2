"""The tables the audit reads whole, page by page (GET /v1/ledger/{table} and /v1/leaves).

Pages follow a cursor, the key of the last row a page held: the next page is the rows after
it in key order (keyset pagination). Rows the logger adds while an audit pages through a table
therefore never shift a page onto rows already read or past rows not read yet, as an offset
would, and each page costs an index seek rather than a scan of every row before it.

`TableReads` needs `all`, as a Storage has it.
"""

# Each table: its columns, the names they get in the API's answer, and the columns of its key
# (a prefix of the columns, unique per row) with the key's type for the cursor.
_TABLES = {
    "vouchers": (
        "SELECT card_id, sequence, issued, reason, reference, record FROM vouchers",
        ("card_id", "sequence", "issued", "reason", "reference", "record"),
        (("card_id", bytes), ("sequence", int)),
    ),
    "payments": (
        "SELECT payment_key, identity, payer_id, counter, amount, seen, record FROM payments",
        ("payment_key", "identity", "payer_id", "payer_counter", "amount", "seen", "payment"),
        (("payment_key", bytes),),
    ),
    "settlements": (
        "SELECT payment_key, payer_id, amount, kind, voucher_sequence, ltime FROM settlements",
        ("payment_key", "payer_id", "amount", "kind", "voucher_sequence", "ltime"),
        (("payment_key", bytes),),
    ),
    "recoveries": (
        "SELECT card_id, successor, amount, shortfall, statement, ltime, voucher_sequence"
        " FROM recoveries",
        ("card_id", "successor", "amount", "shortfall", "statement", "ltime",
         "voucher_sequence"),
        (("card_id", bytes),),
    ),
    "checkpoints": (
        "SELECT tree_size, root, record FROM checkpoints",
        ("tree_size", "root", "checkpoint"),
        (("tree_size", int),),
    ),
}  # fmt: skip
# The ledger tables and the names of their columns, in the order of each page's rows.
LEDGER_TABLES = {table: names for table, (_, names, _) in _TABLES.items()}
LEAF_COLUMNS = ("leaf_index", "record", "receipt", "amount", "payer_id", "recipient_id")


class BadCursor(ValueError):
    """A cursor that is not a key of the table."""


def cursor_of(table, row):
    """The cursor after `row` of `table`: its key's values, hex for bytes, joined by ':'."""
    key = _TABLES[table][2]
    return ":".join(
        bytes(value).hex() if kind is bytes else str(int(value))
        for value, (_, kind) in zip(row, key, strict=False)
    )


def _key_values(table, cursor):
    key = _TABLES[table][2]
    parts = cursor.split(":")
    if len(parts) != len(key):
        raise BadCursor("a %s cursor has %d part(s)" % (table, len(key)))
    values = []
    for text, (_, kind) in zip(parts, key, strict=True):
        try:
            values.append(bytes.fromhex(text) if kind is bytes else int(text))
        except ValueError:
            raise BadCursor("%r is not a %s cursor" % (cursor, table)) from None
        if kind is int and not 0 <= values[-1] < 2**63:
            raise BadCursor("%r is not a %s cursor" % (cursor, table))
    return values


class TableReads:
    def table_page(self, table, after, limit):
        """Up to `limit` rows of a LEDGER_TABLES table after the row whose cursor is `after`
        (None: from the first), in key order, as tuples of its columns. BadCursor for a cursor
        that is not one of the table's."""
        sql, _, key = _TABLES[table]
        columns = ", ".join(name for name, _ in key)
        params = ()
        if after is not None:
            values = _key_values(table, after)
            placeholders = ", ".join("?" for _ in values)
            sql += " WHERE (%s) > (%s)" % (columns, placeholders)
            params = tuple(values)
        return self.all(sql + " ORDER BY %s LIMIT ?" % columns, (*params, limit))

    def leaves_page(self, start, limit):
        """Up to `limit` leaves from index `start`, as tuples of LEAF_COLUMNS."""
        return self.all(
            "SELECT leaf_index, record, receipt, amount, payer_id, recipient_id FROM leaves"
            " WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?",
            (start, limit),
        )
