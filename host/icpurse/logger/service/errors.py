"""Why the logger refuses a request, as the service raises it and the API answers it."""


class SubmitError(Exception):
    """A record refused before or while sequencing; `status` is the HTTP status to answer."""

    def __init__(self, status, reason, conflicts_with=None, evidence=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.conflicts_with = conflicts_with
        # The kind of evidence the refused record left against its payer ("counter-reuse",
        # "identity-conflict"): the answer names it, so a terminal can say CLONE.
        self.evidence = evidence


class WindowOpen(SubmitError):
    """The settlement window has not passed yet; `retry_after` seconds of L-time remain."""

    def __init__(self, reason, retry_after):
        super().__init__(425, reason)
        self.retry_after = max(1, int(retry_after))


class Unavailable(Exception):
    """The logger cannot promise to store a record now (503, Retry-After)."""


def refusal(exc):
    """A refused record's result (a SubmitError as a dict for the API)."""
    result = {"status": exc.status, "error": exc.reason}
    if exc.conflicts_with is not None:
        result["conflicts_with"] = int(exc.conflicts_with)
    if exc.evidence is not None:
        result["evidence"] = exc.evidence
    return result
