"""How long the host waits for a card's answer: one table, by board profile and class of command.

A card names its board profile (config.json's "board") right after its boot notice and in
answer to every plain ping (docs/PROTOCOL.md section 9). The serial link (icpurse.seriallink)
learns it from the ping that begins each session and then waits for each command as long as
TIMEOUTS gives for that board and the command's class. A wait that runs out costs a probe, not
a resent command: the link asks the card whether it has finished what came before, and sends
the command again only once the card says it has and the answer never came.

TIMEOUTS is made from two estimates, both explained in docs/HARDWARE.md ("Host timeouts"), whose
table a test holds equal to this one: INSTRUCTIONS, what the slowest command of each class costs
in x86-64 Unix-port instructions (issue 23's bench), and RATES, how many of them a board runs in
a second (the slow end of the bench's calibration). A wait is twice the estimated time, rounded
up to half a second, and never under MINIMUM. When the speed work lowers the counts, or a board
result replaces a rate, change the figure here and the table in docs/HARDWARE.md.
"""

import math
import re

from purse import proto

FAST = "fast"
CRYPTO = "crypto"
PAY = "pay"
ACCEPT = "accept"
CLASSES = (FAST, CRYPTO, PAY, ACCEPT)

# Millions of instructions of each class's slowest command (docs/HARDWARE.md, "Host timeouts"):
# PAY in the signed mode and a first ACCEPT, the bench's counts at the baseline (commit 79d3251);
# FAST and CRYPTO as shares of that ACCEPT measured on the Unix port (a tenth: LOCK; 0.65:
# INSTALL TRUST making a trust anchor's 16-span table).
INSTRUCTIONS = {FAST: 43.0, CRYPTO: 280.0, PAY: 238.0, ACCEPT: 430.8}
# Millions of those instructions a board runs in a second: the slow end of each range of the
# bench's calibration (ESP32 at its default 160 MHz). The Pico 2 (RP2350) is not calibrated
# and gets the RP2040's, which is slower.
RATES = {"esp32": 53, "esp32c3": 62, "esp32s3": 92, "pico": 41, "pico2": 41, "picow": 41}
MARGIN = 2.0
# Seconds: the least any wait is, and every wait of an emulated card (the Unix port's profile),
# which runs on the host, whose ACCEPT takes well under a second.
MINIMUM = 3.0


def _wait(instructions, rate):
    return max(MINIMUM, math.ceil(MARGIN * instructions / rate * 2) / 2)


# Seconds to wait for an answer, per board profile: (fast, crypto, pay, accept).
TIMEOUTS = {
    board: tuple(_wait(INSTRUCTIONS[cls], rate) for cls in CLASSES)
    for board, rate in sorted(RATES.items())
}
TIMEOUTS["unix"] = (MINIMUM,) * len(CLASSES)
# A board profile missing from the table, or a card whose firmware names none (older than this
# table): the slowest board's row.
UNKNOWN = tuple(max(row[i] for row in TIMEOUTS.values()) for i in range(len(CLASSES)))

# Each command's class, by its instruction: CRYPTO does one public-key operation (a signature
# checked or made, a key generated) or makes a trust anchor's table; PAY and ACCEPT are the
# transfer's two long commands. Everything else is FAST, and so is every part of a chained
# command but the last (the card only stores it).
_CLASS_OF = {
    proto.INS_GENERATE_KEY: CRYPTO,
    proto.INS_INSTALL_TRUST: CRYPTO,
    proto.INS_INSTALL_CERTIFICATE: CRYPTO,
    proto.INS_INSTALL_RISK: CRYPTO,
    proto.INS_TAKE_TICKET: CRYPTO,
    proto.INS_INSTALL_REVOCATION: CRYPTO,
    proto.INS_LOAD_VOUCHER: CRYPTO,
    proto.INS_MAKE_CHALLENGE: CRYPTO,
    proto.INS_TAKE_RECEIPT: CRYPTO,
    proto.INS_TAKE_STAMP: CRYPTO,
    proto.INS_PAY: PAY,
    proto.INS_ACCEPT: ACCEPT,
}

# A board profile's name as a card may give it: at most BOARD_NAME_MAX bytes (the card cuts a
# longer one: firmware/link.py) of letters, digits, ".", "_" and "-".
BOARD_NAME_MAX = 16
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class BadBoardName(ValueError):
    """A card named its board with something that is not a board profile's name."""


def parse_name(data):
    """The board profile's name in `data` (bytes from the card, after seriallink.BOARD_NOTICE), as
    str; BadBoardName says what is wrong with anything else. A card may be broken or hostile:
    the message shows at most 40 bytes of what it sent."""
    data = bytes(data)
    shown = repr(data[:40]) + ("..." if len(data) > 40 else "")
    if len(data) > BOARD_NAME_MAX:
        raise BadBoardName(
            "a board name of %d bytes (at most %d): %s" % (len(data), BOARD_NAME_MAX, shown)
        )
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        text = None
    if text is None or not _NAME.fullmatch(text):
        raise BadBoardName(
            "%s, which is not a board name (letters, digits, '.', '_' and '-')" % shown
        )
    return text


def for_board(name):
    """{class: seconds} for the board profile `name` (UNKNOWN's figures for None, "" or a
    profile the table lacks)."""
    row = TIMEOUTS.get((name or "").lower(), UNKNOWN)
    return dict(zip(CLASSES, row))


def known(name):
    """Whether the table has a row of its own for the board profile `name`."""
    return (name or "").lower() in TIMEOUTS


def command_class(apdu):
    """The class of a command APDU, which sets how long its answer is awaited."""
    if len(apdu) < 2 or apdu[0] & proto.CLA_CHAIN:
        return FAST
    return _CLASS_OF.get(apdu[1], FAST)


def describe(name, override=None):
    """One line for people: the board profile a card named and the waits that follow from it."""
    if override is not None:
        waits = "every answer awaited %g s (--timeout)" % override
    else:
        waits = "answers awaited " + ", ".join(
            "%s %g s" % (cls, seconds) for cls, seconds in for_board(name).items()
        )
    if name is None:
        return waits
    if not name:
        return "not named (firmware older than board names); %s" % waits
    if not known(name):
        return "%s, not in the timeout table; %s" % (name, waits)
    return "%s; %s" % (name, waits)
