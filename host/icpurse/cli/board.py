"""`icpurse flash` and `icpurse provision`: from a board with MicroPython to a working wallet."""

import os
from contextlib import ExitStack

from icpurse.cli import argtypes
from icpurse.cli.common import (
    add_logger_options,
    add_timeout,
    guarded,
    open_authority,
    open_card,
    open_logger,
    require_logger_key,
)
from icpurse.errors import UsageError
from purse import proto


def _check_port(port):
    if "://" not in port and not os.path.exists(port):
        raise UsageError("no such port: %s" % port)


def run_flash(args):
    from icpurse import flash

    _check_port(args.port)
    info = flash.flash(args.port, args.board, args.mpy, say=print)
    print(
        "flashed: the wallet runs on %s; personalise it with icpurse provision --port %s"
        % (args.port, args.port)
        if info.state == proto.STATE_FRESH
        else "flashed: the wallet runs on %s" % args.port
    )
    return 0


def run_provision(args):
    from icpurse.provision import Provisioner

    _check_port(args.port)
    ca = open_authority(args.ca, "ca")
    issuer = open_authority(args.issuer, "issuer")
    with ExitStack() as stack:
        logger = open_logger(stack, args, {"issuer": issuer.signer})
        client = open_card(stack, args.port, args.timeout)
        info = client.select()
        if info.state != proto.STATE_FRESH:
            raise UsageError(
                "the card on %s is already personalised (card %s); re-flashing wipes it"
                % (args.port, info.card_id.hex())
            )
        provisioner = Provisioner(
            ca, issuer, logger.logger_key, logger.ticket, publish=logger.publish_voucher,
            stamp_for=logger.stamp, log_id=logger.log_id(),
        )  # fmt: skip
        info = provisioner.personalise(client.exchange, args.amount)
    print("personalised card %s on %s" % (info.card_id.hex(), args.port))
    print("  its key was generated on the card; only PkU left it: %s" % info.public_key.hex())
    print("  certified by the CA, risk parameters installed, locked; balance %d" % info.balance)
    return 0


def _board(text):
    """The name of a board with settings in firmware/boards; the list is read only when a name
    is given, so the help does not pay for finding the firmware."""
    import argparse

    from icpurse.firmware_files import boards

    if text not in boards():
        raise argparse.ArgumentTypeError(
            "%r is not a board with settings: give one of %s" % (text, ", ".join(boards()))
        )
    return text


def add_parser(subparsers):
    p = subparsers.add_parser(
        "flash", help="put the wallet firmware on a MicroPython board with mpremote",
        description="Copy the wallet onto the board on PORT with mpremote: read the board's\n"
        "MicroPython version, compile firmware/ with mpy-cross for it (--mpy; the .py source\n"
        "when the .mpy formats differ), check the free flash first, copy each file and check\n"
        "its SHA-256 on the board, write the board's config.json, soft-reset, and check that\n"
        "the wallet answers. A wallet not yet personalised is left for the REPL first; a\n"
        "personalised one is refused (its link never returns to the REPL). Re-flashing wipes\n"
        "the card.",
    )  # fmt: skip
    p.add_argument(
        "--port", required=True,
        help="the board's serial port (/dev/ttyUSB0, /dev/ttyACM0, COM3), or a bare emulated "
        "board's pty (icpurse emulate --bare)",
    )  # fmt: skip
    p.add_argument(
        "--board", type=_board, metavar="BOARD",
        help="board settings from firmware/boards/, such as esp32s3 or pico (default: told "
        "from the board's MicroPython)",
    )  # fmt: skip
    p.add_argument(
        "--mpy", action="store_true",
        help="copy modules precompiled by mpy-cross (smaller, and no compiling in the board's "
        "heap) instead of .py source",
    )  # fmt: skip
    p.set_defaults(handler=guarded(run_flash))

    p = subparsers.add_parser(
        "provision", help="personalise the wallet on a board: key, certificate, first voucher",
        description="Personalise the fresh wallet on PORT over its serial link: the card\n"
        "generates its key (only the public key leaves it), the CA certifies it, the trust\n"
        "anchors, the logger's first L-time and the issuer's risk parameters are installed,\n"
        "personalisation is locked, and the issuer loads --amount with the card's first\n"
        "voucher (recorded with the logger).",
    )  # fmt: skip
    p.add_argument("--port", required=True, help="the board's serial port, or a pty")
    p.add_argument("--ca", required=True, metavar="DIR", help="the CA's directory")
    p.add_argument("--issuer", required=True, metavar="DIR", help="the issuer's directory")
    p.add_argument(
        "--amount", type=argtypes.amount(0), default=0,
        help="value to load with the first voucher (default 0)",
    )  # fmt: skip
    add_logger_options(p, required=True)
    add_timeout(p)
    p.set_defaults(handler=require_logger_key(guarded(run_provision)))
