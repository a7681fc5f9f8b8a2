"""`icpurse reconcile`, `recover`, `redeem` and `audit`: settling in-doubt payments,
recovering a damaged or lost card's balance onto a new card, paying value back to the issuer,
and checking the whole ledger (docs/PROTOCOL.md sections 7.1, 7.2, 7.4 and 7.6)."""

from contextlib import ExitStack

from icpurse.cli import argtypes
from icpurse.cli.common import (
    add_logger_options,
    add_operator_key,
    add_timeout,
    guarded,
    open_authority,
    open_card,
    open_logger,
    require_logger_key,
    require_personalised,
    select,
)
from icpurse.errors import UsageError

_amount = argtypes.amount(1)


def reconcile(args):
    from icpurse import settle

    issuer = open_authority(args.issuer, "issuer")
    with ExitStack() as stack:
        logger = open_logger(stack, args, {"issuer": issuer.signer})
        waiting = [p for p in logger.in_doubt() if not p["due"]]
        done = settle.refund_due(issuer, logger, progress=print)
    print(
        "reconciled: %d payment(s) refunded to their payers, %d still inside the settlement"
        " window" % (len(done), len(waiting))
    )
    for p in waiting:
        print(
            "  in doubt: %d from card %s, refundable from L-time %d"
            % (p["amount"], p["payer_id"], p["refundable_from"])
        )
    if done:
        print("each payer's card takes its refund at its next `icpurse sync`")
    return 0


def recover(args):
    from icpurse import settle
    from icpurse.progress import progress

    ca = open_authority(args.ca, "ca")
    issuer = open_authority(args.issuer, "issuer")
    with ExitStack() as stack:
        logger = open_logger(stack, args, {"issuer": issuer.signer, "ca": ca.signer})
        client = open_card(stack, args.new_card, args.timeout)
        logger_key = logger.logger_key
        statement, info = settle.recover(
            ca, issuer, logger, args.card, client, logger_key, args.wait, progress
        )
    print("recovered card %s onto card %s" % (statement.card_id.hex(), info.card_id.hex()))
    print(
        "balance statement signed by the logger: %d at L-time %d, over a log of %d records"
        % (statement.balance, statement.ltime, statement.tree_size)
    )
    print(
        "the new card holds %d (issued total %d); the old card is revoked and closed at 0"
        % (info.balance, info.issued)
    )
    return 0


def redeem(args):
    from icpurse.redemption import RedemptionAccount
    from icpurse.terminal import TransferInDoubt, TransferRefused

    issuer = open_authority(args.issuer, "issuer")
    ca = None if args.ca is None else open_authority(args.ca, "ca")
    with ExitStack() as stack:
        logger = open_logger(stack, args, {"issuer": issuer.signer})
        # The card first: one that cannot pay is named before the account is opened.
        client = open_card(stack, args.card, args.timeout)
        before = select(client, args.card)
        require_personalised(before, args.card, "card")
        account = RedemptionAccount(issuer)
        stack.callback(account.close)
        if not account.ready:
            info = account.open(ca, logger)
            print("opened the issuer's redemption account %s" % info.card_id.hex())
        try:
            outcome = account.redeem(client, args.amount, logger)
        except TransferRefused as exc:
            raise UsageError("nothing redeemed: %s" % exc) from None
        except TransferInDoubt as exc:
            raise UsageError(
                "%s; run `icpurse sync` on the card and `icpurse reconcile` after the window" % exc
            ) from None
        after = client.info()
    print(
        "card %s redeemed %d: it held %d, now %d; the logger receipted the redemption (%d)"
        % (after.card_id.hex(), args.amount, before.balance, after.balance, outcome.receipts)
    )
    return 0


def run_audit(args):
    from icpurse import audit
    from icpurse.crypto_pyca import PycaBackend

    if args.issuer is None and args.operator_key is None:
        raise UsageError(
            "the audit reads the logger's private feeds: give --issuer DIR or --operator-key FILE"
        )
    issuer = None if args.issuer is None else open_authority(args.issuer, "issuer")
    with ExitStack() as stack:
        logger = open_logger(stack, args, {} if issuer is None else {"issuer": issuer.signer})
        report = audit.run(logger, issuer, PycaBackend(), logger.logger_key)
    figures = report.figures
    print(
        "audit of %s: %d records, %d checkpoints, %d cards"
        % (args.logger, figures.get("records", 0), figures.get("checkpoints", 0),
           figures.get("cards", 0))
    )  # fmt: skip
    print(
        "ledger: loads %d - redeemed %d = balances %d + in doubt %d + unloaded recoveries %d"
        " - shortfall %d"
        % (figures.get("loads", 0), figures.get("redeemed", 0), figures.get("balances", 0),
           figures.get("in_doubt", 0), figures.get("recoveries_unloaded", 0),
           figures.get("shortfall", 0))
    )  # fmt: skip
    if report.passed:
        print("audit passed: no anomaly")
        return 0
    print("audit FAILED: %d anomal%s" % (len(report.anomalies), "y" if len(report.anomalies) == 1
                                          else "ies"))  # fmt: skip
    for text in report.anomalies:
        print("  - %s" % text)
    return 1


def add_parser(subparsers):
    p = subparsers.add_parser(
        "reconcile", help="refund in-doubt payments whose settlement window has passed",
        description="Ask the logger for signed payments that no recipient logged (torn taps,\n"
        "destroyed recipients) and whose settlement window has passed, and refund each to its\n"
        "payer with an issuer voucher raised by the amount. The logger settles the payment in\n"
        "the same step: a log that arrives later is kept as evidence and never credited.",
    )  # fmt: skip
    p.add_argument("--issuer", required=True, metavar="DIR", help="the issuer's directory")
    add_logger_options(p, required=True)
    p.set_defaults(handler=guarded(reconcile))

    p = subparsers.add_parser(
        "recover", help="recover a damaged or lost card's balance onto a new card",
        description="Revoke the old card at the CA, wait until the settlement window has\n"
        "passed (late logs of its payments still count), have the logger close its ledger\n"
        "and sign a balance statement naming the new card, and load that balance onto the new\n"
        "card with an issuer voucher. A fresh new card is provisioned first (needs\n"
        "--logger-key). Running it again after an interruption finishes the same recovery.",
    )  # fmt: skip
    p.add_argument(
        "--card", type=argtypes.card_id, required=True, metavar="ID", help="the old card's id"
    )
    p.add_argument(
        "--new-card", required=True, metavar="PORT",
        help="serial port, pty or socket://HOST:PORT of the card that takes the balance over",
    )  # fmt: skip
    p.add_argument("--ca", required=True, metavar="DIR", help="the CA's directory")
    p.add_argument("--issuer", required=True, metavar="DIR", help="the issuer's directory")
    p.add_argument(
        "--wait", type=argtypes.duration, default=0.0, metavar="SECONDS",
        help="how long to wait for the settlement window to close (default: do not wait; "
        "the command says when to run again)",
    )  # fmt: skip
    add_logger_options(p, required=True)
    add_timeout(p)
    p.set_defaults(handler=guarded(recover))

    p = subparsers.add_parser(
        "redeem", help="pay value back to the issuer from a card",
        description="The card pays AMOUNT to the issuer's redemption account, a wallet the\n"
        "issuer runs beside its ledger (opened on first use: give --ca then); the logger\n"
        "witnesses it like any transfer and counts it as redeemed.",
    )  # fmt: skip
    p.add_argument("--card", required=True, metavar="PORT", help="the card that redeems")
    p.add_argument("--amount", type=_amount, required=True, help="amount in the smallest unit")
    p.add_argument("--issuer", required=True, metavar="DIR", help="the issuer's directory")
    p.add_argument("--ca", metavar="DIR", help="the CA's directory (to open the account)")
    add_logger_options(p, required=True)
    add_timeout(p)
    p.set_defaults(handler=require_logger_key(guarded(redeem)))

    p = subparsers.add_parser(
        "audit", help="check the logger's whole ledger; exit status 1 on any anomaly",
        description="Fetch every record, checkpoint, voucher, journal payment, settlement and\n"
        "recovery from the logger; rebuild the Merkle tree and the balances from the records;\n"
        "check every signature with --logger-key, that each checkpoint is consistent with the\n"
        "one before, that the issuer's ledger (--issuer) holds exactly the vouchers the logger\n"
        "recorded, and the ledger identity loads - redeemed = balances + in doubt. Lists every\n"
        "anomaly; exit status 0 if there is none, 1 otherwise, 2 on a usage error. The\n"
        "logger's feeds are private: the requests are signed with the issuer's key (--issuer)\n"
        "or an operator key (--operator-key).",
    )  # fmt: skip
    p.add_argument("--issuer", metavar="DIR", help="the issuer's directory, to check its ledger")
    add_logger_options(p, required=True)
    add_operator_key(p)
    p.set_defaults(handler=require_logger_key(guarded(run_audit)))
