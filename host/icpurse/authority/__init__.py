"""The authorities of the scheme: the certification authority T and the issuer I.

Each keeps its key pair (PEM, encrypted when a passphrase is given) and its own SQLite
database in one directory. The records they sign come from purse.records, signed through the
pyca/cryptography backend.
"""

from icpurse.errors import UsageError


class AuthorityError(UsageError):
    """Something the operator can fix: a missing or locked key, an unknown card, a bad value,
    a database that is not what it should be. The message says what and where."""


DAY = 86400
# Certificates and risk parameters start a day before they are signed: a card judges validity
# by its L-time, which lags real time until it next hears from the logger, and a card that
# synced this morning must accept a card certified this afternoon.
BACKDATE = DAY


def validity(days, now):
    """(not_before, not_after) for something signed at `now` (L-time seconds) for `days`."""
    return now - BACKDATE, now + days * DAY
