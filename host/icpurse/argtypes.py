"""argparse types shared by the command-line modules: each refuses bad text with a message
that says what is expected."""

import argparse

from purse import proto


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
