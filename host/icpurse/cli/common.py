"""What the command modules share: opening cards and the logger, the options every command
that talks to them takes, and turning their failures into one line.

Imports of the heavy modules (pyserial, the logger client, cryptography) are made inside the
functions, so that `icpurse --help` and argument errors do not pay for them.
"""

import os
import sys
from pathlib import Path

from icpurse.cli import argtypes
from icpurse.errors import UsageError
from purse import proto

# The exit statuses of commands that talk to a card or the logger, listed in their help.
COMMON_EPILOG = """\
exit statuses:
  0  done
  2  a usage error, a port that is missing, busy or silent, a card that refused, or a logger
     that cannot be reached or whose answers do not verify
"""

# How a recipient seals its challenge, by the name the commands take.
MODES = {
    "encrypted": proto.SEAL_ENCRYPTED,
    "hashed": proto.SEAL_HASHED,
    "signed": proto.SEAL_SIGNED,
    "plain": proto.SEAL_PLAIN,
}

# --- what people read ---------------------------------------------------------------------------


def clock_time(seconds):
    """An epoch time as a person reads it: UTC, to the second."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ltime_text(ltime):
    """A card's L-time: the number it holds and the clock time it stands for."""
    if ltime == 0:
        return "0 (not set)"
    return "%d (%s)" % (ltime, clock_time(ltime))


def say_error(kind, text):
    print("icpurse: %s: %s" % (kind, text), file=sys.stderr)


def card_error_text(exc, port):
    from icpurse.statuswords import explain

    return "the card on %s refused %s: %s" % (port, exc.command, explain(exc.sw))


def logger_error_text(exc, url):
    text = "the logger at %s: %s" % (url, exc.reason)
    if exc.status is not None:
        text += " (HTTP %d)" % exc.status
    return text


# --- options ------------------------------------------------------------------------------------


def add_timeout(parser):
    parser.add_argument(
        "--timeout", type=argtypes.timeout, default=None, metavar="SECONDS",
        help="how long to wait for each answer from a card before asking it whether it is "
        "still at work (default: per command, from the board the card names; docs/HARDWARE.md,"
        " \"Host timeouts\"; a card that stays silent through 5 waits is reported)",
    )  # fmt: skip


def add_logger_options(parser, required):
    parser.add_argument(
        "--logger", type=argtypes.url, required=required, metavar="URL",
        help="the logger service, such as http://127.0.0.1:8462",
    )  # fmt: skip
    parser.add_argument(
        "--logger-key", metavar="HEX|FILE",
        help="PkL, to check the logger's signatures here too (the card always checks them)",
    )  # fmt: skip
    parser.add_argument(
        "--logger-ca", metavar="FILE",
        help="for an https logger: the certificate (or CA bundle) to trust instead of the "
        "system's authorities, such as the logger's own self-signed certificate",
    )  # fmt: skip


def add_operator_key(parser):
    parser.add_argument(
        "--operator-key", metavar="FILE",
        help="an operator's PEM key (`icpurse logger operator-key`) to sign the logger's "
        "private reads with; encrypted keys take ICPURSE_OPERATOR_PASSPHRASE or a prompt",
    )  # fmt: skip


def add_passphrase_file(parser):
    parser.add_argument(
        "--passphrase-file", metavar="PATH",
        help="file holding the key's passphrase (or set ICPURSE_PASSPHRASE)",
    )  # fmt: skip


# --- cards --------------------------------------------------------------------------------------


def is_url(port):
    return "://" in port


def same_port(a, b):
    if is_url(a) or is_url(b):
        return a == b
    return os.path.realpath(a) == os.path.realpath(b)


def open_serial(stack, port, timeout):
    """A SerialLink for `port`, closed when `stack` closes; a missing device is named plainly
    here because pyserial's own message repeats the path and the errno twice."""
    from icpurse.seriallink import LinkError, SerialLink

    if not is_url(port) and not os.path.exists(port):
        raise UsageError("no such port: %s" % port)
    try:
        link = SerialLink(port, timeout=timeout)
    except LinkError as exc:
        raise UsageError(str(exc)) from None
    stack.callback(link.close)
    return link


def open_card(stack, port, timeout):
    """A CardClient over the card on `port` (see open_serial)."""
    from purse.client import CardClient

    return CardClient(open_serial(stack, port, timeout).exchange)


def select(client, port):
    """SELECT the applet, then GET INFO: the card's current Info."""
    from purse.client import CardError

    try:
        client.select()
        return client.info()
    except CardError as exc:
        raise UsageError(card_error_text(exc, port)) from None


def require_personalised(info, port, role):
    """Paying and syncing need a personalised card; the card would refuse a fresh one with a
    status word about the order of commands, which does not say what to do."""
    from icpurse.statuswords import STATES

    if info.state != proto.STATE_READY:
        raise UsageError(
            "the %s on %s is not personalised (state %s): `icpurse provision --port %s` "
            "personalises it" % (role, port, STATES.get(info.state, info.state), port)
        )


# --- the logger and the authorities ---------------------------------------------------------


def open_logger(stack, args, signers=None):
    """A LoggerClient for --logger, checked by fetching a signed checkpoint: an unreachable
    logger, or one whose key is not --logger-key, is reported before any card is touched.
    `signers`: role -> Signer for the requests only a role may make (the authorities'
    `signer`); --operator-key, where a command takes it, adds the operator's."""
    from icpurse.authority import keys
    from icpurse.logger.client import CLI_RETRIES, LoggerClient, LoggerError
    from icpurse.progress import progress
    from purse.errors import PurseError

    key = keys.read_public(args.logger_key) if args.logger_key else None
    signers = dict(signers or {})
    if getattr(args, "operator_key", None):
        signers["operator"] = operator_signer(args.operator_key)
    ca_file = getattr(args, "logger_ca", None)
    if ca_file is not None and not os.path.isfile(ca_file):
        raise UsageError("no certificate file %s (--logger-ca)" % ca_file)
    client = LoggerClient(
        args.logger, key, retries=CLI_RETRIES, progress=progress, signers=signers,
        verify=ca_file if ca_file else True,
    )  # fmt: skip
    stack.callback(client.close)
    try:
        client.checkpoint()
    except LoggerError as exc:
        raise UsageError(logger_error_text(exc, args.logger)) from None
    except PurseError:
        raise UsageError(
            "the logger at %s signs with another key than --logger-key" % args.logger
        ) from None
    return client


def operator_signer(path):
    """The Signer of an operator key file (see _operator_passphrase)."""
    from icpurse.authority import keys

    return keys.load_signer(path, _operator_passphrase(path))


def operator_private(path):
    """The operator key of a file as pyca's object, to open a sealed session with."""
    from icpurse.authority import keys

    return keys.load_private(path, _operator_passphrase(path))


def _operator_passphrase(path):
    """An operator key's passphrase: ICPURSE_OPERATOR_PASSPHRASE, or a prompt when the key is
    encrypted and a person is at the terminal (an operator's key is not an authority's: it has
    a passphrase of its own)."""
    import getpass

    from icpurse.authority import keys

    secret = os.environ.get("ICPURSE_OPERATOR_PASSPHRASE", "").encode() or None
    if secret is None and sys.stdin.isatty() and os.path.isfile(path):
        if b"ENCRYPTED" in keys.read_small(path, "key"):
            secret = getpass.getpass("passphrase for %s: " % path).encode()
    return secret


def passphrase(args, prompt_if_needed, key_path=None):
    """The passphrase of an authority's key: --passphrase-file, ICPURSE_PASSPHRASE, or a
    prompt when the key is encrypted and a person is at the terminal."""
    import getpass

    from icpurse.authority import keys

    if getattr(args, "passphrase_file", None):
        return keys.read_small(args.passphrase_file, "passphrase").rstrip(b"\r\n")
    env = os.environ.get("ICPURSE_PASSPHRASE")
    if env:
        return env.encode()
    if prompt_if_needed and key_path is not None and sys.stdin.isatty():
        key = Path(key_path)
        if key.is_file() and b"ENCRYPTED" in keys.read_small(key, "key"):
            return getpass.getpass("passphrase for %s: " % key_path).encode()
    return None


def open_authority(directory, kind):
    """The CA (`kind` "ca") or the issuer ("issuer") kept in `directory`, its key read with the
    passphrase from ICPURSE_PASSPHRASE or a prompt."""
    from icpurse.authority.ca import CertificationAuthority
    from icpurse.authority.issuer import Issuer

    if directory is None:
        raise UsageError("give the %s's directory (--%s DIR)" % (kind, kind))
    if not os.path.isdir(directory):
        raise UsageError("no %s directory %s" % (kind, directory))
    cls = CertificationAuthority if kind == "ca" else Issuer
    key_path = cls.paths(directory)[0]
    return cls.open(directory, passphrase(None, True, key_path))


# --- handlers -----------------------------------------------------------------------------------


def guarded(handler):
    """Run a handler, turning the failures of links, cards and the logger into a one-line
    UsageError (exit status 2) instead of a traceback."""

    def run(args):
        from icpurse.logger.client import LoggerError
        from icpurse.seriallink import LinkError
        from icpurse.statuswords import explain
        from purse.client import CardError, CardReset
        from purse.errors import PurseError

        try:
            return handler(args)
        except LinkError as exc:
            raise UsageError(str(exc)) from None
        except CardReset as exc:
            raise UsageError("%s again and again; giving up" % exc) from None
        except LoggerError as exc:
            raise UsageError(logger_error_text(exc, getattr(args, "logger", None))) from None
        except CardError as exc:
            raise UsageError("a card refused %s: %s" % (exc.command, explain(exc.sw))) from None
        except PurseError as exc:
            raise UsageError("an answer is malformed or does not verify: %s" % exc) from None

    return run


def require_logger_key(handler):
    """Run a handler only with a readable --logger-key: its answers are checked here."""

    def run(args):
        from icpurse.authority import AuthorityError, keys

        if args.logger_key is None:
            raise UsageError("--logger-key is needed: the logger's signatures are checked here")
        try:
            keys.read_public(args.logger_key)
        except AuthorityError as exc:
            raise UsageError("--logger-key: %s" % exc) from None
        return handler(args)

    return run
