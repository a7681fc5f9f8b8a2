"""The audit's report, and the columns it reads from each of the logger's tables."""

from icpurse.logger.client.answers import columns_checked

# The columns the audit reads from each of the logger's tables, and what each must hold
# (answers.columns_checked): a row without one, or with another type, is the logger's fault and
# fails the audit with a message, not with a KeyError or TypeError halfway through.
COLUMNS = {
    "leaves": (("leaf_index", int), ("record", "hex"), ("receipt", "hex"), ("amount", int),
               ("payer_id", "hex"), ("recipient_id", "hex")),
    "checkpoints": (("checkpoint", "hex"), ("tree_size", int)),
    "vouchers": (("card_id", "hex"), ("sequence", int), ("issued", int), ("reason", str),
                 ("record", "hex")),
    "payments": (("payment_key", "hex"), ("payer_id", "hex"), ("amount", int)),
    "settlements": (("payment_key", "hex"), ("kind", str), ("payer_id", "hex"),
                    ("voucher_sequence", (int, type(None))), ("amount", int)),
    "recoveries": (("card_id", "hex"), ("successor", "hex"), ("amount", int),
                   ("shortfall", int), ("voucher_sequence", (int, type(None)))),
}  # fmt: skip


def checked(rows, table):
    """`rows` of the logger's `table`, each holding the COLUMNS the audit reads."""
    return columns_checked(rows, table, COLUMNS[table])


class AuditReport:
    def __init__(self):
        self.anomalies = []
        self.figures = {}

    def flag(self, text):
        self.anomalies.append(text)

    @property
    def passed(self):
        return not self.anomalies
