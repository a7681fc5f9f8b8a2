"""`icpurse card ...`: look at a card over its serial port."""

import argparse
from contextlib import ExitStack

from icpurse.cli.common import (
    COMMON_EPILOG,
    add_timeout,
    guarded,
    ltime_text,
    open_card,
    open_serial,
    select,
)


def card_info(args):
    from icpurse import timeouts
    from icpurse.statuswords import STATES
    from purse.client import CardClient

    with ExitStack() as stack:
        link = open_serial(stack, args.port, args.timeout)
        info = select(CardClient(link.exchange), args.port)
    card_id = info.card_id.hex() if info.card_id else "(none yet: no key generated)"
    rows = [
        ("card", card_id),
        ("port", args.port),
        ("board", timeouts.describe(link.board_name, args.timeout)),
        ("state", STATES.get(info.state, "unknown (%d)" % info.state)),
        ("balance", str(info.balance)),
        ("issued total w", str(info.issued)),
        ("payer counter", str(info.counter)),
        ("L-time", ltime_text(info.ltime)),
        ("outbox", "%d log record(s) waiting for a receipt from the logger" % info.outbox),
        ("journal", "%d payment(s) made" % info.journal),
        ("public key", info.public_key.hex() if info.public_key else "(none yet)"),
        ("version", str(info.version)),
    ]
    for label, value in rows:
        print("%-15s %s" % (label, value))
    return 0


def card_log(args):
    from icpurse import cardlog

    with ExitStack() as stack:
        client = open_card(stack, args.port, args.timeout)
        select(client, args.port)
        entries = client.log()
    if not entries:
        print("the card on %s has refused nothing since it started" % args.port)
        return 0
    print(
        "the card on %s refused %d command(s) since it started, oldest first (the peer saw "
        "only the status word):" % (args.port, len(entries))
    )
    for number, line in enumerate(cardlog.lines(entries), 1):
        print("%3d  %s" % (number, line))
    return 0


def add_parser(subparsers):
    formatter = argparse.RawDescriptionHelpFormatter

    card = subparsers.add_parser("card", help="look at a card over its serial port")
    card_cmds = card.add_subparsers(dest="card_command", metavar="ACTION", title="actions")
    card.set_defaults(handler=lambda args: card.print_help())

    p = card_cmds.add_parser(
        "info", help="select the card and print its id, state, balance and counters",
        epilog=COMMON_EPILOG, formatter_class=formatter,
    )  # fmt: skip
    p.add_argument("port", metavar="PORT", help="serial port, pty or socket://HOST:PORT")
    add_timeout(p)
    p.set_defaults(handler=guarded(card_info))

    p = card_cmds.add_parser(
        "log", help="print the card's local log of refusals, in words",
        description="Read the card's local log over its own link (GET LOG): the last refusals\n"
        "since the card started, each with the command, the reason and the status word the\n"
        "peer saw. The card keeps them in RAM, so a restart empties the log; it never\n"
        "answers GET LOG over NFC, so a payment's peer cannot read them.",
        epilog=COMMON_EPILOG, formatter_class=formatter,
    )  # fmt: skip
    p.add_argument("port", metavar="PORT", help="serial port, pty or socket://HOST:PORT")
    add_timeout(p)
    p.set_defaults(handler=guarded(card_log))
