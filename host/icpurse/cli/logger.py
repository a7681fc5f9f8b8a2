"""`icpurse logger ...`: create the logger's key and run the logger service."""

import argparse
import os
import sys

from icpurse.authority import AuthorityError
from icpurse.cli import argtypes
from icpurse.cli.common import (
    COMMON_EPILOG,
    add_logger_options,
    add_operator_key,
    add_passphrase_file,
    clock_time,
    guarded,
    open_logger,
    operator_private,
    passphrase,
)
from icpurse.logger import DEFAULT_WINDOW

# uvicorn's log levels (uvicorn.config.LOG_LEVELS), named here so that argparse refuses any
# other with a usage message instead of uvicorn failing with a traceback.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
# The default per-client limit on expensive reads (icpurse.logger.api.guard.READ_RATE, named
# here so that `icpurse logger --help` does not import the service).
READ_RATE = 20.0
# Seconds an idle keep-alive connection stays open (uvicorn's timeout_keep_alive).
IDLE_SECONDS = 5


def _check_listen(host, port):
    """Bind `host`:`port` as uvicorn will, and let go: a name that does not resolve, an address
    not of this machine or a port in use is then a one-line error before the logger says it
    runs, where uvicorn said so after the start-up line, in its own words."""
    import socket

    where = "%s:%d" % (host, port)
    try:
        addresses = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise AuthorityError("cannot listen on %s: %s" % (where, exc.strerror)) from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                raise AuthorityError(
                    "cannot listen on %s: %s" % (where, exc.strerror or exc)
                ) from None


def logger_init(args):
    _new_key(args, "logger", "PkL")


def operator_key(args):
    _new_key(args, "operator", "PkO")
    print("give %s.pub to `icpurse logger serve --operator`; where the key is used, its "
          "passphrase comes from ICPURSE_OPERATOR_PASSPHRASE or a prompt" % args.key)  # fmt: skip


def _new_key(args, who, name):
    """Create a P-256 key pair at --key (PEM, and its .pub) and say what was made."""
    from icpurse.authority import keys

    secret = passphrase(args, False)
    public = keys.create(args.key, args.key + ".pub", secret)
    print("created the %s key %s" % (who, args.key))
    print("%s: %s" % (name, public.hex()))
    if not secret:
        print("note: the %s key is stored unencrypted; use --passphrase-file to encrypt it" % who)


def logger_login(args):
    import json
    from contextlib import ExitStack

    from icpurse.errors import UsageError

    if not args.operator_key:
        raise UsageError("a session is an operator's: give --operator-key FILE")
    with ExitStack() as stack:
        logger = open_logger(stack, args)
        session = logger.session(operator_private(args.operator_key))
    print("%s=%s" % (session["cookie"], session["session"]))
    print("expires %s" % clock_time(session["expires"]), file=sys.stderr)
    if args.cookie_file:
        # With the attributes a browser should give it (docs/OPERATIONS.md): a driver such as
        # Playwright takes the file as it is; the url gives the host, Path=/ and Secure.
        cookie = {"name": session["cookie"], "value": session["session"], "url": args.logger,
                  "expires": session["expires"], "httpOnly": True,
                  "sameSite": "Strict"}  # fmt: skip
        fd = os.open(args.cookie_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(cookie, out)
            out.write("\n")
    return 0


def _anchor(value, directory, kind):
    from icpurse.authority import keys
    from icpurse.authority.ca import CertificationAuthority
    from icpurse.authority.issuer import Issuer

    if value:
        return keys.read_public(value)
    if directory:
        path = (CertificationAuthority if kind == "ca" else Issuer).paths(directory)[1]
        return keys.read_public(path)
    return None


def logger_serve(args):
    import uvicorn

    from icpurse.authority import keys
    from icpurse.logger.storage import open_storage, shown

    ca = _anchor(args.ca_public_key, args.ca, "ca")
    issuer = _anchor(args.issuer_public_key, args.issuer, "issuer")
    operators = [keys.read_public(k) for k in args.operator]
    tls = _tls(args)
    # Check the key, the database and the anchors here, so a mistake is reported before the
    # server starts (and before any worker process does the same).
    secret = passphrase(args, True, args.key)
    public_key = keys.load_signer(args.key, secret).public_key
    storage = open_storage(args.db)
    stored = storage.meta("window")
    if stored is not None and args.window is not None and int(stored.decode()) != args.window:
        raise AuthorityError(
            "the database %s has a settlement window of %s s, not %d"
            % (shown(args.db), stored.decode(), args.window)
        )
    for name, value in (("ca_key", ca), ("issuer_key", issuer)):
        stored = storage.meta(name)
        if stored is None and value is None:
            raise AuthorityError("a new logger database needs --%s" % name.replace("_key", ""))
        if stored is not None and value is not None and stored != value:
            raise AuthorityError("the database %s belongs to another %s" % (shown(args.db), name))
    # The database's genesis with PkL: what cards and vouchers of this log name.
    log_id = storage.log_id(public_key)
    storage.close()
    _check_listen(args.host, args.port)
    os.environ.update(
        {
            "ICPURSE_LOGGER_DB": args.db,
            "ICPURSE_LOGGER_KEY": os.path.abspath(args.key),
            "ICPURSE_LOGGER_CA": ca.hex() if ca else "",
            "ICPURSE_LOGGER_ISSUER": issuer.hex() if issuer else "",
            "ICPURSE_LOGGER_WINDOW": "" if args.window is None else str(args.window),
            "ICPURSE_LOGGER_VERIFIERS": str(args.verifiers),
            "ICPURSE_LOGGER_SIGNERS": str(args.signers),
            "ICPURSE_LOGGER_SEQUENCER": args.sequencer,
            "ICPURSE_LOGGER_BODY_TIMEOUT": str(args.body_timeout),
            "ICPURSE_LOGGER_OPERATORS": ",".join(k.hex() for k in operators),
            "ICPURSE_LOGGER_READ_RATE": str(args.read_rate),
        }
    )
    if args.passphrase_file:
        # The workers read the file themselves, so the passphrase is in no environment.
        os.environ["ICPURSE_PASSPHRASE_FILE"] = os.path.abspath(args.passphrase_file)
    elif secret and "ICPURSE_PASSPHRASE" not in os.environ:
        # Typed at the prompt: the workers cannot ask, so they inherit it.
        os.environ["ICPURSE_PASSPHRASE"] = secret.decode()
    print("log id %s: cards provisioned with this logger, and their vouchers, name it"
          % log_id.hex(), file=sys.stderr, flush=True)  # fmt: skip
    print(
        "icpurse logger on %s://%s:%d (database %s, %d worker(s), %d verifier and %d signer"
        " process(es) each, sequencer on a %s)"
        % (
            "https" if tls else "http",
            # An IPv6 address goes in brackets in a URL.
            "[%s]" % args.host if ":" in args.host else args.host,
            args.port,
            shown(args.db),
            args.workers,
            args.verifiers,
            args.signers,
            args.sequencer,
        ),
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        "icpurse.logger.server:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        # Beyond this many connections and requests in progress a worker answers 503 at once,
        # so a flood of connections cannot exhaust its file descriptors.
        limit_concurrency=args.max_connections,
        timeout_keep_alive=IDLE_SECONDS,
        **tls,
    )


def _tls(args):
    """uvicorn's TLS options for --tls-cert and --tls-key, checked here: a missing file or a
    key that is not the certificate's is a one-line error before the service starts."""
    if args.tls_cert is None and args.tls_key is None:
        return {}
    if args.tls_cert is None or args.tls_key is None:
        raise AuthorityError("https needs both --tls-cert and --tls-key")
    import ssl

    for path in (args.tls_cert, args.tls_key):
        if not os.path.isfile(path):
            raise AuthorityError("no such file: %s" % path)
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            args.tls_cert, args.tls_key
        )
    except (ssl.SSLError, ValueError) as exc:
        raise AuthorityError(
            "%s and %s are not a PEM certificate and its key: %s"
            % (args.tls_cert, args.tls_key, getattr(exc, "reason", None) or exc)
        ) from None
    return {"ssl_certfile": os.path.abspath(args.tls_cert),
            "ssl_keyfile": os.path.abspath(args.tls_key)}  # fmt: skip


def logger_backup(args):
    from icpurse.logger.storage import open_storage, shown

    storage = open_storage(args.db)
    try:
        storage.backup(args.out)
    finally:
        storage.close()
    print("backed up %s to %s" % (shown(args.db), args.out))
    print(
        "restore it by serving it (SQLite: the file itself; PostgreSQL: pg_restore into an "
        "empty database), then run `icpurse audit` against it"
    )


def add_parser(subparsers):
    logger = subparsers.add_parser("logger", help="the third-party logger L")
    cmds = logger.add_subparsers(dest="logger_command", metavar="ACTION", title="actions")
    logger.set_defaults(handler=lambda args: logger.print_help())

    p = cmds.add_parser("init", help="create the logger's key pair (PEM, and PATH.pub)")
    p.add_argument("--key", required=True, metavar="PATH", help="where to write the private key")
    add_passphrase_file(p)
    p.set_defaults(handler=logger_init)

    p = cmds.add_parser(
        "backup", help="copy the logger's database while it runs (SQLite, or pg_dump)",
        description="Copy one consistent state of the log database to OUT while the logger\n"
        "keeps serving: SQLite's online backup into a new database file, or pg_dump's custom\n"
        "format of the logger's schema on PostgreSQL. docs/OPERATIONS.md says how to restore\n"
        "and check a backup.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--db", required=True, help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    p.add_argument("--out", required=True, metavar="FILE", help="the backup file (must not exist)")
    p.set_defaults(handler=logger_backup)

    p = cmds.add_parser("serve", help="run the logger's HTTP service")
    p.add_argument(
        "--db", default="sqlite:///logger.db",
        help="sqlite:///PATH (default sqlite:///logger.db) or postgresql://USER@HOST:PORT/DB",
    )  # fmt: skip
    p.add_argument("--key", required=True, metavar="PATH", help="the logger's PEM private key")
    add_passphrase_file(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=argtypes.port, default=8462, help="port (default 8462)")
    p.add_argument(
        "--workers", type=argtypes.count(1, 256), default=1,
        help="service worker processes (default 1); each has its own sequencer, and appends "
        "take turns on the database's lock",
    )  # fmt: skip
    p.add_argument(
        "--verifiers", type=argtypes.count(0, 256), default=os.cpu_count() or 1, metavar="N",
        help="processes of each worker that parse and verify records (default: one per core, "
        "%(default)s here); 0 verifies on a thread of the worker",
    )  # fmt: skip
    p.add_argument(
        "--signers", type=argtypes.count(0, 256), default=os.cpu_count() or 1, metavar="N",
        help="processes of each worker that sign receipts (default: one per core, %(default)s "
        "here); 0 signs on threads of the worker",
    )  # fmt: skip
    p.add_argument(
        "--sequencer", choices=("process", "thread"), default="process",
        help="where each worker appends its batches to the log: in a process of its own "
        "(default), which then starts the signers, or on a thread of the worker",
    )  # fmt: skip
    p.add_argument("--ca", metavar="DIR", help="CA directory whose ca.pub is PkT")
    p.add_argument("--ca-public-key", metavar="HEX|FILE", help="PkT (a new database needs it)")
    p.add_argument("--issuer", metavar="DIR", help="issuer directory whose issuer.pub is PkI")
    p.add_argument("--issuer-public-key", metavar="HEX|FILE", help="PkI (a new database needs it)")
    p.add_argument(
        "--window", type=argtypes.window, metavar="SECONDS",
        help="settlement window, fixed when the database is made (default %d s): how long an "
        "unlogged payment waits before it may be refunded, and how long a revoked card's "
        "logs still count" % DEFAULT_WINDOW,
    )  # fmt: skip
    p.add_argument(
        "--body-timeout", type=argtypes.timeout, default=10.0, metavar="SECONDS",
        help="how long a request's body may take to arrive before the request is answered 408 "
        "and its connection closed (default 10)",
    )  # fmt: skip
    p.add_argument(
        "--max-connections", type=argtypes.count(1, 1_000_000), default=1000, metavar="N",
        help="connections and requests in progress per worker beyond which new ones are "
        "answered 503 (default 1000; keep it under the open-file limit)",
    )  # fmt: skip
    p.add_argument(
        "--operator", action="append", default=[], metavar="HEX|FILE",
        help="an operator's public key (the .pub of `icpurse logger operator-key`), whose "
        "signed requests and sessions read the ledger, alerts, leaves and card histories; "
        "give it once per operator (the issuer may read them too)",
    )  # fmt: skip
    p.add_argument(
        "--read-rate", type=argtypes.rate, default=READ_RATE, metavar="N",
        help="expensive reads (ledger, its tables, leaves, alerts, in-doubt, card histories) "
        "each client may make a second per worker, twice that at once; more are answered 429 "
        "(default %g; 0: no limit)" % READ_RATE,
    )  # fmt: skip
    p.add_argument(
        "--tls-cert", metavar="FILE",
        help="serve https with this PEM certificate (chain); needs --tls-key",
    )  # fmt: skip
    p.add_argument("--tls-key", metavar="FILE", help="the certificate's PEM private key")
    p.add_argument(
        "--log-level",
        default="warning",
        type=str.lower,
        choices=LOG_LEVELS,
        help="what uvicorn logs (default warning; info logs every request)",
    )
    p.set_defaults(handler=logger_serve)

    p = cmds.add_parser(
        "operator-key", help="create an operator's key pair (PEM, and PATH.pub)",
        description="Create the P-256 key pair an operator signs the logger's private reads\n"
        "with. Give its .pub to `icpurse logger serve --operator`, and the PEM key to\n"
        "`icpurse audit --operator-key` and `icpurse logger login`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--key", required=True, metavar="PATH", help="where to write the private key")
    add_passphrase_file(p)
    p.set_defaults(handler=operator_key)

    p = cmds.add_parser(
        "login", help="open an operator session for a browser (a cookie for read-only pages)",
        description="Sign a session request with an operator key and print the session\n"
        "cookie the logger gives back, with when it expires (15 minutes). A browser that\n"
        "sends it may read what the operator reads; nothing is changed with a session.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=COMMON_EPILOG,
    )  # fmt: skip
    add_logger_options(p, required=True)
    add_operator_key(p)
    p.add_argument(
        "--cookie-file", metavar="FILE",
        help="also write the cookie as JSON (name, value, url, expires, httpOnly, sameSite) "
        "for a browser driver",
    )  # fmt: skip
    p.set_defaults(handler=guarded(logger_login))
