"""The logger as uvicorn runs it: an application factory configured from the environment, so
that several worker processes (`--workers N`) each build the same service.

`icpurse logger serve` sets these variables and starts uvicorn:
    ICPURSE_LOGGER_DB      database URL (sqlite:///PATH or postgresql://...)
    ICPURSE_LOGGER_KEY     the logger's PEM private key
    ICPURSE_LOGGER_CA      PkT (hex), needed when the database is new
    ICPURSE_LOGGER_ISSUER  PkI (hex), needed when the database is new
    ICPURSE_LOGGER_WINDOW  the settlement window in seconds, for a new database (optional)
    ICPURSE_LOGGER_VERIFIERS  processes that check records for each worker (0: a thread)
    ICPURSE_LOGGER_SIGNERS    processes that sign receipts for each worker (0: threads)
    ICPURSE_LOGGER_SEQUENCER  "process" (default): each worker appends batches in a process of
                              its own, which starts the signers; "thread": on a thread
    ICPURSE_LOGGER_BODY_TIMEOUT  seconds a request's body may take to arrive (optional)
    ICPURSE_LOGGER_OPERATORS  the operators' public keys, hex, separated by commas
    ICPURSE_LOGGER_READ_RATE  expensive reads a second per client (0: no limit; optional)
    ICPURSE_PASSPHRASE_FILE  a file holding the key's passphrase, if it is encrypted
    ICPURSE_PASSPHRASE     the key's passphrase, if it is encrypted and no file is named
"""

import os

from icpurse.authority import keys
from icpurse.logger.api.app import build_app
from icpurse.logger.service.logger_service import LoggerService
from icpurse.logger.storage import open_storage


def create_app():
    env = os.environ
    signer = keys.load_signer(env["ICPURSE_LOGGER_KEY"], _passphrase(env))
    storage = open_storage(env["ICPURSE_LOGGER_DB"])
    ca = env.get("ICPURSE_LOGGER_CA")
    issuer = env.get("ICPURSE_LOGGER_ISSUER")
    service = LoggerService(
        storage,
        signer,
        bytes.fromhex(ca) if ca else None,
        bytes.fromhex(issuer) if issuer else None,
        window=int(env["ICPURSE_LOGGER_WINDOW"]) if env.get("ICPURSE_LOGGER_WINDOW") else None,
        verifier_processes=int(env.get("ICPURSE_LOGGER_VERIFIERS", "0")),
        signer_processes=int(env.get("ICPURSE_LOGGER_SIGNERS", "0")),
        sequencer_process=env.get("ICPURSE_LOGGER_SEQUENCER", "process") == "process",
    )
    options = {}
    if env.get("ICPURSE_LOGGER_BODY_TIMEOUT"):
        options["body_timeout"] = float(env["ICPURSE_LOGGER_BODY_TIMEOUT"])
    if env.get("ICPURSE_LOGGER_READ_RATE"):
        options["read_rate"] = float(env["ICPURSE_LOGGER_READ_RATE"])
    operators = [bytes.fromhex(k) for k in env.get("ICPURSE_LOGGER_OPERATORS", "").split(",") if k]
    return build_app(service, operators=operators, **options)


def _passphrase(env):
    if env.get("ICPURSE_PASSPHRASE_FILE"):
        return keys.read_small(env["ICPURSE_PASSPHRASE_FILE"], "passphrase").rstrip(b"\r\n")
    text = env.get("ICPURSE_PASSPHRASE")
    return text.encode() if text else None
