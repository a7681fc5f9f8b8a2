"""Host-side errors the `icpurse` command line reports as a one-line message (exit status 2)."""


class UsageError(Exception):
    """A bad argument or a state the user can fix; printed without a traceback."""
