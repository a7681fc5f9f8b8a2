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
