"""Assertion helpers for core tests, written to run on MicroPython as well as CPython.

Core tests (tests/core/test_*.py) are plain functions that pytest collects on CPython and that
tests/mp_runner.py runs on the MicroPython Unix port; they may only use what both interpreters
have, so pytest.raises is replaced by this module's raises().
"""


class raises:  # noqa: N801 - named like pytest.raises, whose role it takes.
    """Context manager: the block must raise `exc_type` (or a subclass) and nothing else.

    The caught exception is kept in `.value` for further checks.
    """

    def __init__(self, exc_type, match=None):
        self.exc_type = exc_type
        self.match = match
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError("expected %s, nothing was raised" % self.exc_type.__name__)
        if not issubclass(exc_type, self.exc_type):
            # Returning False lets the unexpected exception propagate with its traceback.
            return False
        if self.match is not None and self.match not in str(exc):
            raise AssertionError("%r does not contain %r" % (str(exc), self.match))
        self.value = exc
        return True


def unhex(text):
    """Bytes from hex text that may contain spaces and newlines, as standards print vectors."""
    return bytes.fromhex("".join(text.split()))
