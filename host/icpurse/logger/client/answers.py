"""The logger's answers as the API describes them, checked before a client uses them.

A JSON answer that is not what the API describes (not an object, a field missing, of another
type or not hex, rows without the columns their reader uses) comes from a URL that is not an
icpurse logger, or from a logger gone wrong. Each is a LoggerError that names what was wrong,
which commands print in one line, instead of a KeyError or TypeError from deep inside them.
"""


class LoggerError(Exception):
    """The logger refused a request or could not be reached; `.status` is the HTTP status."""

    def __init__(self, status, reason, retry_after=None, evidence=None):
        super().__init__("logger: %s (HTTP %s)" % (reason, status))
        self.status = status
        self.reason = reason
        # Seconds the logger asked to wait (503, or 425 while a settlement window is open).
        self.retry_after = retry_after
        # The evidence a refused record or payment left against its payer, as the logger
        # names it ("counter-reuse": a clone; "identity-conflict"), or None.
        self.evidence = evidence


def malformed(what):
    return LoggerError(None, "%s: is this URL an icpurse logger?" % what)


def field(body, key, kind):
    """body[key], which must be a `kind` (a JSON object's field)."""
    value = body.get(key) if isinstance(body, dict) else None
    if not _holds(value, kind):
        raise malformed("the answer has no %s %r" % (kind.__name__, key))
    return value


def _unhex(text, key):
    try:
        return bytes.fromhex(text)
    except (TypeError, ValueError):
        raise malformed("the answer's %r is not hex" % key) from None


def hex_field(body, key):
    """The bytes of body[key], a hex string."""
    return _unhex(field(body, key, str), key)


def hex_list(body, key):
    """The bytes of each hex string of the list body[key]."""
    return [_unhex(text, key) for text in field(body, key, list)]


def objects(body, key):
    """body[key], a list of JSON objects."""
    values = field(body, key, list)
    if not all(isinstance(v, dict) for v in values):
        raise malformed("the answer's %r is not a list of objects" % key)
    return values


def _holds(value, kind):
    if kind == "hex":
        return isinstance(value, str) and _is_hex(value)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # A JSON true or false is a bool, which Python also counts as an int.
    return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


def _is_hex(text):
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def columns_checked(rows, table, columns):
    """`rows` (JSON objects from the logger's `table`), each holding `columns`: (name, kind)
    pairs, where kind is a type, a tuple of types (type(None) for a column that may be empty)
    or "hex" for a string of hex digits. A LoggerError names the first row that does not."""
    for position, row in enumerate(rows):
        object_checked(row, "%s row %d" % (table, position), columns)
    return rows


def object_checked(body, what, columns):
    """`body`, a JSON object holding `columns` (as for columns_checked); `what` names it."""
    for column, kind in columns:
        if not isinstance(body, dict) or not _holds(body.get(column), kind):
            raise LoggerError(None, "the logger's %s has no valid %r" % (what, column))
    return body


# What `card` hands its callers (the demo, the tests): the reconstruction and its history.
CARD_COLUMNS = (("card_id", "hex"), ("issued", int), ("received", int), ("paid", int),
                ("balance", int), ("revoked", bool), ("history", list),
                ("successor", (str, type(None))), ("predecessor", (str, type(None))))  # fmt: skip

# What `alerts` hands its callers (the audit, the demo) in each overspending payer and in
# each piece of evidence.
OVERSPEND_COLUMNS = (("card_id", "hex"), ("issued", int), ("received", int), ("paid", int))
EVIDENCE_COLUMNS = (("kind", str), ("payer_id", "hex"), ("record", "hex"),
                    ("conflicts_with", int), ("ltime", int))  # fmt: skip

# The totals of `ledger`; the audit compares each with what the records give.
LEDGER_COLUMNS = (("loads", int), ("redeemed", int), ("balances", int), ("in_doubt", int),
                  ("cards", dict))  # fmt: skip

# What `in_doubt` hands its callers (reconcile, recover) in each payment.
IN_DOUBT_COLUMNS = (("payment_key", "hex"), ("payer_id", "hex"), ("amount", int), ("due", bool),
                    ("refundable_from", int))  # fmt: skip
