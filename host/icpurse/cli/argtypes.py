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


# Units a duration may carry; a bare number is seconds.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_HINT = "give seconds or a number with a unit, such as 90, 90s, 45m, 12h or 7d"


def _duration(text):
    """Seconds spelled by `text` (90, 0.5, 90s, 45m, 12h, 7d); None if it spells none. NaN and
    infinity are refused here: NaN compares false both ways and infinity never ends a wait."""
    unit = _UNITS.get(text[-1:].lower())
    try:
        value = float(text[:-1] if unit else text) * (unit or 1)
    except ValueError:
        return None
    if not 0 <= value < float("inf"):
        return None
    return int(value) if value == int(value) else value


def duration(text):
    """The one duration type of the command line: seconds, zero or more, as a plain number
    (fractions allowed) or with a unit s, m, h or d."""
    value = _duration(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            "%r is not a number of seconds: %s" % (text, _DURATION_HINT)
        )
    return value


def window(text):
    """A settlement window: a duration of whole seconds that fits the records' u32."""
    value = _duration(text)
    if value is None or value != int(value) or value > 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(
            "%r is not a window of whole seconds up to 4294967295: %s" % (text, _DURATION_HINT)
        )
    return int(value)


def timeout(text):
    """How long to wait for one answer: a duration from 0.01 s to an hour."""
    value = _duration(text)
    if value is None or not 0.01 <= value <= 3600:
        raise argparse.ArgumentTypeError("%r is not a timeout from 0.01 to 3600 seconds" % text)
    return value


def rate(text):
    """Requests a second: a number from 0 (no limit) to a million."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 1e6:
        raise argparse.ArgumentTypeError("%r is not a rate from 0 to 1000000 a second" % text)
    return value


def url(text):
    """A logger's base URL."""
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("%r is not a logger URL like http://HOST:PORT" % text)
    return text.rstrip("/")


def u32(text):
    """A whole number that fits four bytes."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError("%r is not a whole number from 0 to 4294967295" % text)
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


def card_id(text):
    """A card id: CARD_ID_SIZE bytes in hex."""
    value = hex_bytes(text)
    if value is None or len(value) != proto.CARD_ID_SIZE:
        raise argparse.ArgumentTypeError(
            "%r is not a card id (%d hex digits)" % (text, 2 * proto.CARD_ID_SIZE)
        )
    return value
