"""`icpurse pay` and `icpurse sync`: the terminal at the command line.

Cards are reached over their serial ports (a board's USB port, an emulated card's pty, or
`socket://HOST:PORT`) through icpurse.seriallink, which opens each port exclusively. The relay
itself is icpurse.terminal.transfer; this module opens the ports, selects the applets, prints
what the cards say, and turns every way a step can fail into one line and an exit status.
"""

import argparse
import sys
from contextlib import ExitStack

from icpurse.cli import argtypes
from icpurse.cli.common import (
    COMMON_EPILOG,
    MODES,
    add_logger_options,
    add_timeout,
    guarded,
    logger_error_text,
    ltime_text,
    open_card,
    open_logger,
    require_personalised,
    same_port,
    say_error,
    select,
)
from icpurse.errors import UsageError
from purse import proto

# The exit statuses of `icpurse pay`, also listed in its help.
EXIT_OK = 0
EXIT_REFUSED = 2
EXIT_IN_DOUBT = 3
EXIT_NOT_SYNCED = 4
EXIT_CLONE = 5


def _failures():
    """What can go wrong talking to a card: no answer, a refusal, endless resets, a bad
    answer."""
    from icpurse.seriallink import LinkError
    from purse.client import CardError, CardReset
    from purse.errors import PurseError

    return (LinkError, CardError, CardReset, PurseError)


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
# Exit status 5, which `pay` and `sync` share.
_CLONE_EPILOG = """\
  5  the logger refused a record as a clone's: a CLONE line names the payer's card and the
     command that revokes it
"""
PAY_EPILOG += _CLONE_EPILOG
SYNC_EPILOG = COMMON_EPILOG + _CLONE_EPILOG

_amount = argtypes.amount(1)


# --- pay ----------------------------------------------------------------------------------------


def _after_failure(exc, payer, recipient, before_payer, before_payee):
    """Say what a failure in the middle of a transfer left behind, read from the cards
    themselves: the relay is untrusted, so only the cards can tell whether value moved."""
    try:
        after_payer = payer.info()
        after_payee = recipient.info()
    except _failures():
        say_error(
            "in doubt",
            "%s; the cards could not be read back, so whether value moved is unknown: check "
            "both with `icpurse card info`" % exc,
        )
        return EXIT_IN_DOUBT
    if after_payee.balance > before_payee.balance:
        _balances(after_payer, after_payee, before_payer, before_payee)
        say_error(
            "paid, but not synced",
            "%s; the log records wait in the recipient's outbox (%d): run `icpurse sync`"
            % (exc, after_payee.outbox),
        )
        return EXIT_NOT_SYNCED
    if after_payer.counter > before_payer.counter:
        _balances(after_payer, after_payee, before_payer, before_payee)
        say_error(
            "in doubt",
            "%s; the payer has debited and signed the payment, the recipient has not credited "
            "it: it stays in the payer's journal for reconciliation" % exc,
        )
        return EXIT_IN_DOUBT
    say_error("error", "%s; nothing moved" % exc)
    return EXIT_REFUSED


def _say_clones(report, url):
    """A CLONE line for each payer card the logger holds evidence against (from a SyncReport);
    EXIT_CLONE if there was one, else None."""
    if report is None or not report.clones:
        return None
    named = {}
    for clone in report.clones:
        named.setdefault(clone.payer_id, clone)
    for card_id, clone in named.items():
        print(
            "CLONE: card %s: the logger refused a record as a clone's (%s evidence: %s); revoke"
            " it: icpurse ca revoke --dir ca --card %s --logger %s"
            % (card_id.hex(), clone.evidence, clone.reason, card_id.hex(), url),
            file=sys.stderr,
        )  # fmt: skip
    return EXIT_CLONE


def _balances(payer, payee, before_payer=None, before_payee=None):
    for role, info, before in (("payer", payer, before_payer), ("recipient", payee, before_payee)):
        was = "" if before is None else " (was %d)" % before.balance
        print("%-10s %s: balance %d%s" % (role, info.card_id.hex(), info.balance, was))


def _failure_text(exc, args):
    from icpurse.logger.client import LoggerError
    from icpurse.statuswords import explain
    from purse.client import CardError

    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, LoggerError):
        return logger_error_text(exc, args.logger)
    if isinstance(exc, CardError):
        return "a card refused %s: %s" % (exc.command, explain(exc.sw))
    return str(exc)


def pay(args):
    from icpurse.logger.client import LoggerError
    from icpurse.terminal import TransferInDoubt, TransferRefused, transfer

    if same_port(args.payer, args.recipient):
        raise UsageError("--from and --to name the same port %s: a card cannot pay itself" % (
            args.payer))  # fmt: skip
    if args.ticket and not args.logger:
        raise UsageError("--ticket needs --logger: the ready-ticket comes from the logger")
    if args.logger_key and not args.logger:
        raise UsageError("--logger-key needs --logger")
    with ExitStack() as stack:
        logger = open_logger(stack, args) if args.logger else None
        payer = open_card(stack, args.payer, args.timeout)
        recipient = open_card(stack, args.recipient, args.timeout)
        before_payer = select(payer, args.payer)
        before_payee = select(recipient, args.recipient)
        require_personalised(before_payer, args.payer, "payer's card")
        require_personalised(before_payee, args.recipient, "recipient's card")
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
            say_error("refused, nothing moved", str(exc))
            return EXIT_REFUSED
        except TransferInDoubt as exc:
            say_error("in doubt", str(exc))
            return EXIT_IN_DOUBT
        except (*_failures(), LoggerError, KeyboardInterrupt) as exc:
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
        except _failures() as exc:
            # The payment is complete; only the report of it is missing, so this is no failure.
            print("warning: the balances could not be read back: %s" % _failure_text(exc, args))
            return _say_clones(outcome.synced, args.logger) or EXIT_OK
        if logger is not None:
            print(
                "logger: %d log record(s) receipted at %s; the recipient's outbox holds %d"
                % (outcome.receipts, args.logger, after_payee.outbox)
            )
        _balances(after_payer, after_payee, before_payer, before_payee)
    return _say_clones(outcome.synced, args.logger) or EXIT_OK


# --- sync ---------------------------------------------------------------------------------------


def sync(args):
    from purse.records.credentials import RevocationList

    with ExitStack() as stack:
        logger = open_logger(stack, args)
        client = open_card(stack, args.port, args.timeout)
        before = select(client, args.port)
        require_personalised(before, args.port, "card")
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
            % (after.counter, after.journal, ltime_text(after.ltime))
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
    print("L-time: %s, was %s" % (ltime_text(after.ltime), ltime_text(before.ltime)))
    return _say_clones(report, args.logger) or EXIT_OK


# --- parsers ------------------------------------------------------------------------------------


def add_parser(subparsers):
    formatter = argparse.RawDescriptionHelpFormatter

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
    add_logger_options(p, required=False)
    p.add_argument(
        "--ticket", action="store_true",
        help="the recipient credits only with a fresh ready-ticket from the logger "
        "(embodiment 2; needs --logger)",
    )  # fmt: skip
    add_timeout(p)
    p.set_defaults(handler=guarded(pay))

    p = subparsers.add_parser(
        "sync", help="send a card's log records to the logger and take the receipts back",
        description="Drain the card's outbox into the logger, hand each receipt back to the\n"
        "card, upload the card's journal of signed payments (so a payment that never reached\n"
        "a log can be settled), load a newer voucher the issuer recorded for the card (a\n"
        "refund or a recovered balance), and install the logger's revocation list if it is\n"
        "newer than the card's.",
        epilog=SYNC_EPILOG, formatter_class=formatter,
    )  # fmt: skip
    p.add_argument("port", metavar="PORT", help="serial port, pty or socket://HOST:PORT")
    add_logger_options(p, required=True)
    add_timeout(p)
    p.set_defaults(handler=guarded(sync))
