"""The tables the audit reads whole, page by page (GET /v1/ledger/{table} and /v1/leaves).

`TableReads` needs `all`, as a Storage has it.
"""

# Each table's query and the names its columns get in the API's answer.
_TABLES = {
    "vouchers": (
        "SELECT card_id, sequence, issued, reason, reference, record FROM vouchers"
        " ORDER BY card_id, sequence",
        ("card_id", "sequence", "issued", "reason", "reference", "record"),
    ),
    "payments": (
        "SELECT payment_key, identity, payer_id, counter, amount, seen, record FROM payments"
        " ORDER BY payment_key",
        ("payment_key", "identity", "payer_id", "payer_counter", "amount", "seen", "payment"),
    ),
    "settlements": (
        "SELECT payment_key, payer_id, amount, kind, voucher_sequence, ltime FROM settlements"
        " ORDER BY payment_key",
        ("payment_key", "payer_id", "amount", "kind", "voucher_sequence", "ltime"),
    ),
    "recoveries": (
        "SELECT card_id, successor, amount, shortfall, statement, ltime, voucher_sequence"
        " FROM recoveries ORDER BY card_id",
        ("card_id", "successor", "amount", "shortfall", "statement", "ltime",
         "voucher_sequence"),
    ),
    "checkpoints": (
        "SELECT tree_size, root, record FROM checkpoints ORDER BY tree_size",
        ("tree_size", "root", "checkpoint"),
    ),
}  # fmt: skip
# The ledger tables and the names of their columns, in the order of each page's rows.
LEDGER_TABLES = {table: names for table, (_, names) in _TABLES.items()}
LEAF_COLUMNS = ("leaf_index", "record", "receipt", "amount", "payer_id", "recipient_id")


class TableReads:
    def table_page(self, table, start, limit):
        """Rows `start` to `start + limit` of a LEDGER_TABLES table, as tuples of its
        columns."""
        sql, _ = _TABLES[table]
        return self.all(sql + " LIMIT ? OFFSET ?", (limit, start))

    def leaves_page(self, start, limit):
        """Up to `limit` leaves from index `start`, as tuples of LEAF_COLUMNS."""
        return self.all(
            "SELECT leaf_index, record, receipt, amount, payer_id, recipient_id FROM leaves"
            " WHERE leaf_index >= ? ORDER BY leaf_index LIMIT ?",
            (start, limit),
        )
