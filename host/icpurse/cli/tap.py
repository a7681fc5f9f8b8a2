"""`icpurse field` and `icpurse tap`: NFC taps between emulated boards without hardware.

`icpurse field` runs one RF field; `icpurse emulate --state DIR --nfc` boards join it with a
simulated PN532 each. `icpurse tap --from PORT --to PORT --amount X` then does what two people
do: the payer's holder arms the amount (the button's stand-in), the cards are held together,
and the recipient's board runs the whole exchange over NFC; with --logger the recipient's log
is synced afterwards. It works the same with real boards that have a PN532 (the payer's holder
presses the button when asked).
"""

import signal
import sys
import threading
from contextlib import ExitStack

from icpurse.cli import argtypes
from icpurse.cli.common import (
    MODES,
    add_logger_options,
    add_timeout,
    guarded,
    open_logger,
    open_serial,
    same_port,
)
from icpurse.emulator import DEFAULT_SOCKET
from icpurse.errors import UsageError

TAP_SECONDS = 60.0


def run_field(args):
    from icpurse.emulator.fieldserver import FieldError, FieldServer

    try:
        server = FieldServer(
            args.socket,
            log=lambda text: print("icpurse field: %s" % text, file=sys.stderr, flush=True),
        )
    except FieldError as exc:
        raise UsageError(str(exc)) from None
    print("field on %s" % args.socket, flush=True)
    print(
        "icpurse field: boards join with icpurse emulate --state DIR --nfc %s; Ctrl-C stops it"
        % args.socket,
        file=sys.stderr, flush=True,
    )  # fmt: skip
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _board(link, payload, timeout):
    answer = link.board(payload, timeout).decode("utf-8", "replace")
    if not answer.startswith("ok"):
        raise UsageError("the board on %s: %s" % (link.port, answer))
    return answer


def run_tap(args):
    if same_port(args.payer, args.recipient):
        raise UsageError("--from and --to name the same port %s: a card cannot pay itself" % (
            args.payer))  # fmt: skip
    with ExitStack() as stack:
        logger = open_logger(stack, args) if args.logger else None
        payer_link = open_serial(stack, args.payer, args.timeout)
        recipient_link = open_serial(stack, args.recipient, args.timeout)
        # The reader's board is asked first, with an empty board command that any board glue
        # answers (with an error) and a card without one refuses (a LinkError): an armed payer
        # would otherwise listen for a reader that never comes.
        recipient_link.board(b"")
        print("payer: confirm %d (press the board's button if it has one)" % args.amount)
        _board(payer_link, b"arm %d" % args.amount, TAP_SECONDS)
        listened = {}

        def listen():
            try:
                listened["answer"] = payer_link.board(b"listen", TAP_SECONDS).decode()
            except Exception as exc:  # noqa: BLE001 - reported below.
                listened["answer"] = "error %s" % exc

        card = threading.Thread(target=listen, daemon=True)
        card.start()
        print("hold the cards together...")
        answer = _board(
            recipient_link, b"receive %d %d" % (args.amount, MODES[args.mode]), TAP_SECONDS
        )
        card.join(TAP_SECONDS)
        # "ok credited X balance B rtt R": what the recipient's card says it credited is
        # reported, never the amount asked for.
        words = answer.split()
        print(
            "tapped: %s moved; the recipient holds %s; slowest APDU round trip %s us"
            % (words[2], words[4], words[6])
        )
        if listened.get("answer", "").startswith("error"):
            print("payer's board: %s" % listened["answer"])
        if logger is not None:
            from purse.client import CardClient

            recipient = CardClient(recipient_link.exchange)
            recipient.select()
            report = logger.sync(recipient)
            print("logger: %d log record(s) receipted" % report.receipted)
    return 0


def add_parser(subparsers):
    p = subparsers.add_parser(
        "field", help="run one RF field that emulated boards with --nfc join",
        description="One RF field for emulated boards: each `icpurse emulate --nfc SOCKET`\n"
        "gets a simulated PN532 in it, so `icpurse tap` can move money between them.",
    )  # fmt: skip
    p.add_argument(
        "--socket", default=DEFAULT_SOCKET,
        help="the field's unix socket (default %s)" % DEFAULT_SOCKET,
    )  # fmt: skip
    p.set_defaults(handler=run_field)

    p = subparsers.add_parser(
        "tap", help="move money by NFC tap between two boards with a PN532",
        description="The payer's board is armed with the amount (its holder presses the button,\n"
        "if it has one), then the recipient's board reads the payer's card over NFC and runs\n"
        "the whole exchange; with --logger its log is synced afterwards.",
    )  # fmt: skip
    p.add_argument("--from", dest="payer", required=True, metavar="PORT", help="the payer")
    p.add_argument("--to", dest="recipient", required=True, metavar="PORT", help="the recipient")
    p.add_argument("--amount", type=argtypes.amount(1), required=True, help="the amount")
    p.add_argument(
        "--mode", choices=sorted(MODES), default="encrypted", help="challenge seal mode"
    )
    add_logger_options(p, required=False)
    add_timeout(p)
    p.set_defaults(handler=guarded(run_tap))
