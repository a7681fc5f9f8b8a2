"""The authorities of the scheme: the certification authority T and the issuer I.

Each keeps its key pair (PEM, encrypted when a passphrase is given) and its own SQLite
database in one directory. The records they sign come from purse.records, signed through the
pyca/cryptography backend.
"""

from icpurse.errors import UsageError


class AuthorityError(UsageError):
    """Something the operator can fix: a missing or locked key, an unknown card, a bad value,
    a database that is not what it should be. The message says what and where."""
