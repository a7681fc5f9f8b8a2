"""argparse types shared by the command-line modules: each refuses bad text with a message
that says what is expected."""

import argparse

from purse import proto


def count(minimum, maximum=None):
    """A whole number from `minimum` (to `maximum`, if given)."""

    def parse(text):
        value = int(text) if text.isdigit() else None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            within = "from %d to %d" % (minimum, maximum) if maximum is not None else (
                "of at least %d" % minimum)  # fmt: skip
            raise argparse.ArgumentTypeError("%r is not a whole number %s" % (text, within))
        return value

    return parse


def amount(minimum=1):
    """An amount in the smallest unit, from `minimum` to MAX_AMOUNT."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not minimum <= value <= proto.MAX_AMOUNT:
            raise argparse.ArgumentTypeError(
                "%r is not an amount: give a whole number from %d to %d in the smallest unit"
                % (text, minimum, proto.MAX_AMOUNT)
            )
        return value

    return parse


# A TCP port.
port = count(1, 65535)


def seconds(text):
    """A duration in seconds: a finite number, zero or more (fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        value = None
    # Not `value >= 0` alone: NaN compares false both ways, and infinity never ends a wait.
    if value is None or not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("%r is not a number of seconds, zero or more" % text)
    return value


def hex_bytes(text):
    """The bytes that `text` spells in hex digits, two per byte and nothing else; None if it
    does not (bytes.fromhex alone also takes spaces between bytes)."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        return None
    return value if len(text) == 2 * len(value) else None


def hex_seed(text):
    """Hex digits spelling whole bytes, 1 to 64 of them; returned as given (lower case)."""
    value = hex_bytes(text)
    if not value or len(value) > 64:
        raise argparse.ArgumentTypeError(
            "%r is not a seed: give 2 to 128 hex digits, such as 00ff" % text
        )
    return text.lower()
