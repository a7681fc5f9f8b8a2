"""`icpurse ca ...` and `icpurse issuer ...`: the certification authority and the issuer.

Each authority lives in one directory (default ./ca and ./issuer). Keys are encrypted with the
passphrase read from --passphrase-file or the environment variable ICPURSE_PASSPHRASE, when one
is given. Signed records are printed as hex and, with --out, written to a file as raw bytes.
"""

import sys
import time
from contextlib import ExitStack
from pathlib import Path

from icpurse.authority import DAY, AuthorityError, validity
from icpurse.cli import argtypes
from icpurse.cli.common import (
    add_logger_options,
    add_passphrase_file,
    clock_time,
    logger_error_text,
    open_logger,
    passphrase,
)
from icpurse.errors import UsageError

# --- argument types -----------------------------------------------------------------------------


_amount = argtypes.amount(0)


def _log_id(text):
    """A log id: LOG_ID_SIZE bytes in hex."""
    import argparse

    from purse import proto

    value = argtypes.hex_bytes(text)
    if value is None or len(value) != proto.LOG_ID_SIZE:
        raise argparse.ArgumentTypeError(
            "%r is not a log id (%d hex digits)" % (text, 2 * proto.LOG_ID_SIZE)
        )
    return value


# --- helpers ------------------------------------------------------------------------------------


def _emit(args, what, record_bytes):
    if args.out:
        Path(args.out).write_bytes(record_bytes)
        print("%s (%d bytes) written to %s" % (what, len(record_bytes), args.out))
    else:
        print("%s (%d bytes): %s" % (what, len(record_bytes), record_bytes.hex()))


def _read_record(text, what):
    """Record bytes from hex given on the command line, or from a file (raw or hex)."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    path = Path(text)
    if not path.is_file():
        raise AuthorityError("%s: %r is neither hex nor a file" % (what, text))
    data = path.read_bytes()
    try:
        return bytes.fromhex(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return data


def _validity_period(args):
    """--not-before and --days, or by default from a day ago (see authority.BACKDATE)."""
    if args.not_before is not None:
        return args.not_before, args.not_before + args.days * DAY
    return validity(args.days, int(time.time()))


def _now(args):
    return args.ltime if args.ltime is not None else int(time.time())


# --- the CA -------------------------------------------------------------------------------------


def ca_init(args):
    from icpurse.authority.ca import CertificationAuthority

    secret = passphrase(args, False)
    public = CertificationAuthority.init(args.dir, secret)
    print("created the CA in %s" % args.dir)
    print("PkT: %s" % public.hex())
    if not secret:
        print("note: the CA key is stored unencrypted; use --passphrase-file to encrypt it")


def _open(authority, args):
    key_path = authority.paths(args.dir)[0]
    return authority.open(args.dir, passphrase(args, True, key_path))


def ca_certify(args):
    from icpurse.authority import keys
    from icpurse.authority.ca import CertificationAuthority

    ca = _open(CertificationAuthority, args)
    public_key = keys.read_public(args.public_key)
    cert = ca.certify(public_key, *_validity_period(args))
    print(
        "certified card %s (serial %d), valid %s to %s"
        % (
            cert.card_id.hex(),
            cert.serial,
            clock_time(cert.not_before),
            clock_time(cert.not_after),
        )
    )
    _emit(args, "certificate", cert.encode())


def ca_revoke(args):
    from icpurse.authority import keys
    from icpurse.authority.ca import CertificationAuthority

    if args.logger_key is not None:
        if not args.logger:
            raise UsageError("--logger-key goes with --logger")
        try:
            keys.read_public(args.logger_key)
        except AuthorityError as exc:
            raise UsageError("--logger-key: %s" % exc) from None
    ca = _open(CertificationAuthority, args)
    with ExitStack() as stack:
        client = _revocation_logger(stack, args, ca) if args.logger else None
        rl = ca.revoke(args.card, _now(args), args.reason)
        print(
            "revoked %s; revocation list %d lists %d card(s)"
            % (", ".join(c.hex() for c in args.card), rl.sequence, len(rl.revoked))
        )
        _emit(args, "revocation list", rl.encode())
        if client is None:
            return
        from icpurse.logger.client import LoggerError

        try:
            client.publish_revocation(rl.encode())
        except LoggerError as exc:
            raise AuthorityError(
                "the list is signed, but the logger at %s refused it: %s (publish it again with"
                " `icpurse ca revoke`)" % (args.logger, exc.reason)
            ) from None
        print("the logger at %s serves list %d to terminals" % (args.logger, rl.sequence))


def _revocation_logger(stack, args, ca):
    """The client `ca revoke --logger` publishes with (common.open_logger), once the logger's
    checkpoint, which names the log id the CA's request signature covers, has been read and,
    with --logger-key, verified: a logger that cannot be read, or is not the one the key
    names, is reported before the CA signs anything."""
    try:
        client = open_logger(stack, args, signers={"ca": ca.signer})
    except UsageError as exc:
        raise UsageError("%s; nothing was signed" % exc) from None
    if args.logger_key is None:
        print(
            "note: without --logger-key the CA signs its request for whichever log the server"
            " at %s names" % args.logger,
            file=sys.stderr,
        )
    return client


# --- the issuer ---------------------------------------------------------------------------------


def issuer_init(args):
    from icpurse.authority.ca import CertificationAuthority
    from icpurse.authority.issuer import Issuer

    if args.ca_public_key is None and args.ca is None:
        raise AuthorityError("give the CA's public key: --ca DIR or --ca-public-key HEX|FILE")
    ca_public = args.ca_public_key or CertificationAuthority.paths(args.ca)[1]
    secret = passphrase(args, False)
    public = Issuer.init(args.dir, ca_public, secret)
    print("created the issuer in %s, trusting PkT from %s" % (args.dir, ca_public))
    print("PkI: %s" % public.hex())
    if not secret:
        print("note: the issuer key is stored unencrypted; use --passphrase-file to encrypt it")


def issuer_load(args):
    from icpurse.authority.issuer import Issuer

    issuer = _open(Issuer, args)
    if args.certificate:
        cert = issuer.register(_read_record(args.certificate, "--certificate"))
        if args.card is not None and cert.card_id != args.card:
            raise AuthorityError("the certificate is for card %s" % cert.card_id.hex())
        card_id = cert.card_id
    elif args.card is not None:
        card_id = args.card
    else:
        raise AuthorityError("name the card: --card ID or --certificate FILE")
    with ExitStack() as stack:
        logger = open_logger(stack, args, {"issuer": issuer.signer}) if args.logger else None
        voucher = _load(issuer, card_id, args, logger)
    print(
        "loaded %d onto card %s: issued total w = %d, voucher sequence %d"
        % (args.amount, card_id.hex(), voucher.issued, voucher.sequence)
    )
    if logger is not None:
        print(
            "the logger holds the voucher: the card takes it at its next "
            "`icpurse sync PORT --logger %s`" % args.logger
        )
    else:
        print(
            "note: the voucher is not on a logger; give --logger URL so that the card can take "
            "it at a sync and the audit finds it in the logger's ledger too"
        )
    _emit(args, "voucher", voucher.encode())


def _load(issuer, card_id, args, logger):
    """Sign the voucher; with a logger, hand it over before the issuer commits it, so that a
    voucher the logger refuses is recorded nowhere (Issuer.load's `publish`)."""
    from icpurse.logger.client import LoggerError

    publish = None if logger is None else logger.publish_voucher
    # The voucher names the card's log: the logger's own, which the issuer checks against the
    # log it knows the card by, or --log-id; a card it knows needs neither.
    log_id = args.log_id
    if logger is not None:
        served = logger.log_id()
        if log_id is not None and log_id != served:
            raise UsageError(
                "the logger at %s keeps log %s, not --log-id %s"
                % (args.logger, served.hex(), log_id.hex())
            )
        log_id = served
    try:
        return issuer.load(card_id, args.amount, _now(args), publish=publish, log_id=log_id)
    except LoggerError as exc:
        raise UsageError(
            "%s; the issuer recorded nothing" % logger_error_text(exc, args.logger)
        ) from None


def issuer_risk(args):
    from icpurse.authority.issuer import Issuer

    issuer = _open(Issuer, args)
    params = issuer.risk(
        args.balance_cap, args.payment_cap, args.unlogged_cap, args.window, *_validity_period(args)
    )
    print(
        "risk parameters %d: balance cap %d, payment cap %d, unlogged credit cap %d, "
        "settlement window %d s, valid %s to %s"
        % (
            params.sequence,
            params.balance_cap,
            params.payment_cap,
            params.unlogged_cap,
            params.window,
            clock_time(params.not_before),
            clock_time(params.not_after),
        )
    )
    _emit(args, "risk parameters", params.encode())


# --- parsers ------------------------------------------------------------------------------------


def _common(parser, default_dir):
    parser.add_argument(
        "--dir", default=default_dir, help="the authority's directory (default ./%s)" % default_dir
    )
    add_passphrase_file(parser)


def _output(parser):
    parser.add_argument("--out", metavar="FILE", help="also write the signed record to FILE")


def _validity(parser, days):
    parser.add_argument(
        "--not-before",
        type=argtypes.u32,
        metavar="LTIME",
        help="start of validity (default: a day ago, for cards whose L-time lags)",
    )
    parser.add_argument(
        "--days", type=argtypes.u32, default=days, help="days of validity (default %d)" % days
    )


def add_parser(subparsers):
    ca = subparsers.add_parser("ca", help="the certification authority T")
    ca_cmds = ca.add_subparsers(dest="ca_command", metavar="ACTION", title="actions")
    ca.set_defaults(handler=lambda args: ca.print_help())

    p = ca_cmds.add_parser("init", help="create the CA's key pair and database")
    _common(p, "ca")
    p.set_defaults(handler=ca_init)

    p = ca_cmds.add_parser("certify", help="sign CertT for a card's public key")
    _common(p, "ca")
    p.add_argument(
        "--public-key", required=True, metavar="HEX|FILE", help="the card's 33-byte key"
    )
    _validity(p, 5 * 365)
    _output(p)
    p.set_defaults(handler=ca_certify)

    p = ca_cmds.add_parser("revoke", help="revoke cards and sign the next revocation list")
    _common(p, "ca")
    p.add_argument(
        "--card", type=argtypes.card_id, action="append", required=True, metavar="ID",
        help="card id to revoke (repeat for several)",
    )  # fmt: skip
    p.add_argument("--reason", default="revoked", help="recorded in the CA's database")
    p.add_argument("--ltime", type=argtypes.u32, help="L-time of the list (default: now)")
    p.add_argument(
        "--logger", metavar="URL",
        help="also hand the list to the logger, which serves it to terminals and starts the "
        "revoked cards' settlement window",
    )  # fmt: skip
    p.add_argument(
        "--logger-key", metavar="HEX|FILE",
        help="PkL: the logger's checkpoint must be signed by it before the CA signs a request "
        "for the log it names (without it, the server's word is taken)",
    )  # fmt: skip
    p.add_argument(
        "--logger-ca", metavar="FILE",
        help="for an https logger: the certificate (or CA bundle) to trust",
    )  # fmt: skip
    _output(p)
    p.set_defaults(handler=ca_revoke)

    issuer = subparsers.add_parser("issuer", help="the issuer I")
    issuer_cmds = issuer.add_subparsers(dest="issuer_command", metavar="ACTION", title="actions")
    issuer.set_defaults(handler=lambda args: issuer.print_help())

    p = issuer_cmds.add_parser("init", help="create the issuer's key pair and ledger")
    _common(p, "issuer")
    p.add_argument("--ca", metavar="DIR", help="the CA directory whose ca.pub to trust")
    p.add_argument("--ca-public-key", metavar="HEX|FILE", help="PkT, if not given by --ca")
    p.set_defaults(handler=issuer_init)

    p = issuer_cmds.add_parser("load", help="load value onto a card: sign the next voucher")
    _common(p, "issuer")
    p.add_argument("--card", type=argtypes.card_id, metavar="ID", help="a card the issuer knows")
    p.add_argument(
        "--certificate", metavar="FILE|HEX", help="the card's CertT, to register a new card"
    )
    p.add_argument(
        "--amount", type=_amount, required=True,
        help="amount in the smallest unit; 0 issues a new card's first voucher",
    )  # fmt: skip
    p.add_argument(
        "--ltime", type=argtypes.u32, help="L-time written in the voucher (default: now)"
    )
    add_logger_options(p, required=False)
    p.add_argument(
        "--log-id", type=_log_id, metavar="HEX",
        help="the id of the card's log, for a card's first voucher without --logger (the log"
        " of the logger it was provisioned with, which `icpurse logger serve` prints)",
    )  # fmt: skip
    _output(p)
    p.set_defaults(handler=issuer_load)

    p = issuer_cmds.add_parser("risk", help="sign the risk parameters every card enforces")
    _common(p, "issuer")
    p.add_argument("--balance-cap", type=argtypes.u32, required=True, help="most a card may hold")
    p.add_argument(
        "--payment-cap", type=argtypes.u32, required=True, help="most one payment may move"
    )
    p.add_argument(
        "--unlogged-cap", type=argtypes.u32, required=True,
        help="most credit a card may hold before the logger has receipted it",
    )  # fmt: skip
    p.add_argument(
        "--window", type=argtypes.window, required=True,
        help="settlement window: 3600, 45m, 12h or 7d",
    )  # fmt: skip
    _validity(p, 365)
    _output(p)
    p.set_defaults(handler=issuer_risk)
