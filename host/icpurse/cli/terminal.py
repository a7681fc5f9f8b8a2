"""`icpurse card info`, `icpurse pay` and `icpurse sync`: the terminal at the command line.

Cards are reached over their serial ports (a board's USB port, an emulated card's pty, or
`socket://HOST:PORT`) through icpurse.seriallink, which opens each port exclusively. The relay
itself is icpurse.terminal.transfer; this module opens the ports, selects the applets, prints
what the cards say, and turns every way a step can fail into one line and an exit status.
"""

import argparse
import os
import sys
from contextlib import ExitStack
from datetime import datetime, timezone

from icpurse.authority import keys
from icpurse.cli import argtypes
from icpurse.errors import UsageError
from icpurse.logger.client import CLI_RETRIES, LoggerClient, LoggerError
from icpurse.progress import progress
from icpurse.seriallink import LinkError, SerialLink
from icpurse.statuswords import STATES, explain
from icpurse.terminal import TransferInDoubt, TransferRefused, transfer
from purse import proto
from purse.client import CardClient, CardError, CardReset
from purse.errors import PurseError
from purse.records.credentials import RevocationList

# The exit statuses of `icpurse pay`, also listed in its help.
EXIT_OK = 0
EXIT_REFUSED = 2
EXIT_IN_DOUBT = 3
EXIT_NOT_SYNCED = 4

MODES = {
    "encrypted": proto.SEAL_ENCRYPTED,
    "hashed": proto.SEAL_HASHED,
    "signed": proto.SEAL_SIGNED,
    "plain": proto.SEAL_PLAIN,
}

# What can go wrong talking to a card: no answer, a refusal, endless resets, a bad answer.
_FAILURES = (LinkError, CardError, CardReset, PurseError)

PAY_EPILOG = """\
exit statuses:
  0  paid (and, with --logger, the recipient's log records receipted)
  2  nothing moved: a card refused (the status word is explained), or a usage, port, card
     or logger error was found before any value moved
  3  in doubt: the payer debited and signed, the recipient did not credit (the payment stays
     in the payer's journal for reconciliation), or a card stopped answering mid-transfer;
     check both cards with `icpurse card info`
  4  paid, but the logger sync failed: the log records wait in the recipient's outbox; run
     `icpurse sync PORT --logger URL` later
"""

COMMON_EPILOG = """\
exit statuses:
  0  done
  2  a usage error, a port that is missing, busy or silent, a card that refused, or a logger
     that cannot be reached or whose answers do not verify
"""


# --- argument types -----------------------------------------------------------------------------


_amount = argtypes.amount(1)


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    # A NaN compares false with everything, so the range is written to reject it too.
    if not 0.01 <= value <= 3600:
        raise argparse.ArgumentTypeError("%r is not a timeout from 0.01 to 3600 seconds" % text)
    return value


def _url(text):
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("%r is not a logger URL like http://HOST:PORT" % text)
    return text.rstrip("/")


# --- helpers ------------------------------------------------------------------------------------


def _stamp(ltime):
    if ltime == 0:
        return "0 (not set)"
    iso = datetime.fromtimestamp(ltime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return "%d (%s)" % (ltime, iso)


def _is_url(port):
    return "://" in port


def _open_serial(stack, port, timeout):
    """A SerialLink for `port`, closed when `stack` closes; a missing device is named plainly
    here because pyserial's own message repeats the path and the errno twice."""
    if not _is_url(port) and not os.path.exists(port):
        raise UsageError("no such port: %s" % port)
    try:
        link = SerialLink(port, timeout=timeout)
    except LinkError as exc:
        raise UsageError(str(exc)) from None
    stack.callback(link.close)
    return link


def _open_link(stack, port, timeout):
    """A CardClient over the card on `port` (see _open_serial)."""
    return CardClient(_open_serial(stack, port, timeout).exchange)


def _card_error(exc, port):
    return "the card on %s refused %s: %s" % (port, exc.command, explain(exc.sw))


def _logger_error(exc, url):
    text = "the logger at %s: %s" % (url, exc.reason)
    if exc.status is not None:
        text += " (HTTP %d)" % exc.status
    return text


def _select(client, port):
    """SELECT the applet, then GET INFO: the card's current Info."""
    try:
        client.select()
        return client.info()
    except CardError as exc:
        raise UsageError(_card_error(exc, port)) from None


def _personalised(info, port, role):
    """Paying and syncing need a personalised card; the card would refuse a fresh one with a
    status word about the order of commands, which does not say what to do."""
    if info.state != proto.STATE_READY:
        raise UsageError(
            "the %s on %s is not personalised (state %s): `icpurse provision --port %s` "
            "personalises it" % (role, port, STATES.get(info.state, info.state), port)
        )


def _logger(stack, args):
    """A LoggerClient for --logger, checked by fetching a signed checkpoint: an unreachable
    logger, or one whose key is not --logger-key, is reported before any card is touched."""
    key = keys.read_public(args.logger_key) if args.logger_key else None
    client = LoggerClient(args.logger, key, retries=CLI_RETRIES, progress=progress)
    stack.callback(client.close)
    try:
        client.checkpoint()
    except LoggerError as exc:
        raise UsageError(_logger_error(exc, args.logger)) from None
    except PurseError:
        raise UsageError(
            "the logger at %s signs with another key than --logger-key" % args.logger
        ) from None
    return client


def _guarded(handler):
    """Run a handler, turning the failures of links, cards and the logger into a one-line
    UsageError (exit status 2) instead of a traceback."""

    def run(args):
        try:
            return handler(args)
        except LinkError as exc:
            raise UsageError(str(exc)) from None
        except CardReset as exc:
            raise UsageError("%s again and again; giving up" % exc) from None
        except LoggerError as exc:
            raise UsageError(_logger_error(exc, getattr(args, "logger", None))) from None
        except CardError as exc:
            raise UsageError("a card refused %s: %s" % (exc.command, explain(exc.sw))) from None
        except PurseError as exc:
            raise UsageError("an answer is malformed or does not verify: %s" % exc) from None

    return run


def _say_error(kind, text):
    print("icpurse: %s: %s" % (kind, text), file=sys.stderr)


# --- card info ----------------------------------------------------------------------------------


def card_info(args):
    with ExitStack() as stack:
        client = _open_link(stack, args.port, args.timeout)
        info = _select(client, args.port)
    card_id = info.card_id.hex() if info.card_id else "(none yet: no key generated)"
    rows = [
        ("card", card_id),
        ("port", args.port),
        ("state", STATES.get(info.state, "unknown (%d)" % info.state)),
        ("balance", str(info.balance)),
        ("issued total w", str(info.issued)),
        ("payer counter", str(info.counter)),
        ("L-time", _stamp(info.ltime)),
        ("outbox", "%d log record(s) waiting for a receipt from the logger" % info.outbox),
        ("journal", "%d payment(s) made" % info.journal),
        ("public key", info.public_key.hex() if info.public_key else "(none yet)"),
        ("version", str(info.version)),
    ]
    for label, value in rows:
        print("%-15s %s" % (label, value))
    return EXIT_OK


# --- pay ----------------------------------------------------------------------------------------


def _same_port(a, b):
    if _is_url(a) or _is_url(b):
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


def _after_failure(exc, payer, recipient, before_payer, before_payee):
    """Say what a failure in the middle of a transfer left behind, read from the cards
    themselves: the relay is untrusted, so only the cards can tell whether value moved."""
    try:
        after_payer = payer.info()
        after_payee = recipient.info()
    except _FAILURES:
        _say_error(
            "in doubt",
            "%s; the cards could not be read back, so whether value moved is unknown: check "
            "both with `icpurse card info`" % exc,
        )
        return EXIT_IN_DOUBT
    if after_payee.balance > before_payee.balance:
        _balances(after_payer, after_payee, before_payer, before_payee)
        _say_error(
            "paid, but not synced",
            "%s; the log records wait in the recipient's outbox (%d): run `icpurse sync`"
            % (exc, after_payee.outbox),
        )
        return EXIT_NOT_SYNCED
    if after_payer.counter > before_payer.counter:
        _balances(after_payer, after_payee, before_payer, before_payee)
        _say_error(
            "in doubt",
            "%s; the payer has debited and signed the payment, the recipient has not credited "
            "it: it stays in the payer's journal for reconciliation" % exc,
        )
        return EXIT_IN_DOUBT
    _say_error("error", "%s; nothing moved" % exc)
    return EXIT_REFUSED


def _balances(payer, payee, before_payer=None, before_payee=None):
    for role, info, before in (("payer", payer, before_payer), ("recipient", payee, before_payee)):
        was = "" if before is None else " (was %d)" % before.balance
        print("%-10s %s: balance %d%s" % (role, info.card_id.hex(), info.balance, was))


def _failure_text(exc, args):
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, LoggerError):
        return _logger_error(exc, args.logger)
    if isinstance(exc, CardError):
        return "a card refused %s: %s" % (exc.command, explain(exc.sw))
    return str(exc)


def pay(args):
    if _same_port(args.payer, args.recipient):
        raise UsageError("--from and --to name the same port %s: a card cannot pay itself" % (
            args.payer))  # fmt: skip
    if args.ticket and not args.logger:
        raise UsageError("--ticket needs --logger: the ready-ticket comes from the logger")
    if args.logger_key and not args.logger:
        raise UsageError("--logger-key needs --logger")
    with ExitStack() as stack:
        logger = _logger(stack, args) if args.logger else None
        payer = _open_link(stack, args.payer, args.timeout)
        recipient = _open_link(stack, args.recipient, args.timeout)
        before_payer = _select(payer, args.payer)
        before_payee = _select(recipient, args.recipient)
        _personalised(before_payer, args.payer, "payer's card")
        _personalised(before_payee, args.recipient, "recipient's card")
        print("%-10s %s on %s: balance %d" % (
            "payer", before_payer.card_id.hex(), args.payer, before_payer.balance))  # fmt: skip
        print("%-10s %s on %s: balance %d" % (
            "recipient", before_payee.card_id.hex(), args.recipient,
            before_payee.balance))  # fmt: skip
        try:
            outcome = transfer(
                payer, recipient, args.amount, MODES[args.mode], logger, args.ticket
            )
        except TransferRefused as exc:
            _say_error("refused, nothing moved", str(exc))
            return EXIT_REFUSED
        except TransferInDoubt as exc:
            _say_error("in doubt", str(exc))
            return EXIT_IN_DOUBT
        except (*_FAILURES, LoggerError, KeyboardInterrupt) as exc:
            # Value may have moved before the failure (or the Ctrl-C): say what the cards hold.
            return _after_failure(
                _failure_text(exc, args), payer, recipient, before_payer, before_payee
            )
        print(
            "paid %d with a%s %s challenge%s"
            % (
                outcome.credited,
                "n" if args.mode == "encrypted" else "",
                args.mode,
                " and the logger's ready-ticket" if args.ticket else "",
            )
        )
        if outcome.was_resent:
            print("note: the recipient restarted after crediting; its outbox shows the credit")
        try:
            after_payer = payer.info()
            after_payee = recipient.info()
        except _FAILURES as exc:
            # The payment is complete; only the report of it is missing, so this is no failure.
            print("warning: the balances could not be read back: %s" % _failure_text(exc, args))
            return EXIT_OK
        if logger is not None:
            print(
                "logger: %d log record(s) receipted at %s; the recipient's outbox holds %d"
                % (outcome.receipts, args.logger, after_payee.outbox)
            )
        _balances(after_payer, after_payee, before_payer, before_payee)
    return EXIT_OK


# --- sync ---------------------------------------------------------------------------------------


def sync(args):
    with ExitStack() as stack:
        logger = _logger(stack, args)
        client = _open_link(stack, args.port, args.timeout)
        before = _select(client, args.port)
        _personalised(before, args.port, "card")
        report = logger.sync(client)
        after = client.info()
        revocation = logger.revocation()
    print("card %s synced with the logger at %s" % (after.card_id.hex(), args.logger))
    print(
        "receipts: %d log record(s) sent and receipted; outbox %d before, %d now"
        % (report.receipted, before.outbox, after.outbox)
    )
    for reason in report.refused:
        print("refused: a log record stays on the card: %s" % reason)
    if report.journal:
        print(
            "journal: %d signed payment(s) known to the logger (%s)"
            % (sum(report.journal.values()),
               ", ".join("%d %s" % (n, s) for s, n in sorted(report.journal.items())))
        )  # fmt: skip
    if report.stamped:
        print(
            "stamp: the logger holds the card's payments up to counter %d; its journal holds"
            " %d, and recipients take its payments until a window after %s"
            % (after.counter, after.journal, _stamp(after.ltime))
        )  # fmt: skip
    else:
        print("stamp: refused, the card keeps its old one: %s" % report.stamp_refused)
    if report.voucher_loaded:
        print(
            "voucher: the issuer's newest voucher is loaded (issued %d, was %d): balance %d"
            % (after.issued, before.issued, after.balance)
        )
    if revocation is None:
        print("revocation: the logger has no revocation list yet")
    else:
        rl = RevocationList.decode(revocation)
        print(
            "revocation: the card holds the CA's list %d (%d card(s) revoked) or a newer one"
            % (rl.sequence, len(rl.revoked))
        )
    print("L-time: %s, was %s" % (_stamp(after.ltime), _stamp(before.ltime)))
    return EXIT_OK


# --- parsers ------------------------------------------------------------------------------------


def _timeout(parser):
    parser.add_argument(
        "--timeout", type=_seconds, default=3.0, metavar="SECONDS",
        help="how long to wait for each answer from a card before sending again "
        "(default 3; a card that stays silent through 5 tries is reported)",
    )  # fmt: skip


def _logger_options(parser, required):
    parser.add_argument(
        "--logger", type=_url, required=required, metavar="URL",
        help="the logger service, such as http://127.0.0.1:8462",
    )  # fmt: skip
    parser.add_argument(
        "--logger-key", metavar="HEX|FILE",
        help="PkL, to check the logger's signatures here too (the card always checks them)",
    )  # fmt: skip


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
    _timeout(p)
    p.set_defaults(handler=_guarded(card_info))

    p = subparsers.add_parser(
        "pay", help="move value from one card to another (the terminal relays)",
        description="Relay one payment: the recipient makes a challenge, the payer pays it,\n"
        "the recipient accepts. The terminal is untrusted: the cards check each other.",
        epilog=PAY_EPILOG, formatter_class=formatter,
    )  # fmt: skip
    p.add_argument(
        "--from", dest="payer", required=True, metavar="PORT", help="the payer card's port"
    )
    p.add_argument(
        "--to", dest="recipient", required=True, metavar="PORT",
        help="the recipient card's port",
    )  # fmt: skip
    p.add_argument(
        "--amount", type=_amount, required=True,
        help="amount in the smallest unit, 1 to %d" % proto.MAX_AMOUNT,
    )  # fmt: skip
    p.add_argument(
        "--mode", choices=list(MODES), default="encrypted",
        help="how the recipient seals its challenge (default encrypted; signed identifies the "
        "recipient to the payer)",
    )  # fmt: skip
    _logger_options(p, required=False)
    p.add_argument(
        "--ticket", action="store_true",
        help="the recipient credits only with a fresh ready-ticket from the logger "
        "(embodiment 2; needs --logger)",
    )  # fmt: skip
    _timeout(p)
    p.set_defaults(handler=_guarded(pay))

    p = subparsers.add_parser(
        "sync", help="send a card's log records to the logger and take the receipts back",
        description="Drain the card's outbox into the logger, hand each receipt back to the\n"
        "card, upload the card's journal of signed payments (so a payment that never reached\n"
        "a log can be settled), load a newer voucher the issuer recorded for the card (a\n"
        "refund or a recovered balance), and install the logger's revocation list if it is\n"
        "newer than the card's.",
        epilog=COMMON_EPILOG, formatter_class=formatter,
    )  # fmt: skip
    p.add_argument("port", metavar="PORT", help="serial port, pty or socket://HOST:PORT")
    _logger_options(p, required=True)
    _timeout(p)
    p.set_defaults(handler=_guarded(sync))
