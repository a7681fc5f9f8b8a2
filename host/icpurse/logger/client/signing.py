"""Signing the requests a role makes, as an httpx Auth: the LoggerClient uses it for the
issuer's, the CA's and an operator's requests, and so can any httpx client (tests, scripts)."""

import time

import httpx2

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.access.signature import authorization
from purse.errors import PurseError
from purse.records.checkpoint import Checkpoint


class LogIdUnknown(httpx2.RequestError):
    """The logger's checkpoint, which names the log id a request signature must cover, could
    not be read."""


class RequestSigning(httpx2.Auth):
    """Sign every request with `signer` (a purse Signer): access/signature.py's header over
    the logger's log id, the method, the target as sent, the time, a fresh nonce and the body.

    Without `log_id` the first request reads it from the logger's public checkpoint
    (GET .../v1/checkpoint beside the request's own path) and keeps it. With `logger_key`
    (PkL) that checkpoint must be signed by it: a server without that key cannot then pass off
    another log's id, to collect requests signed for a logger it would replay them to. Without
    it the client signs for the log the server names, which binds a request to that server's
    log only if the server is honest: give the logger's key (the commands' --logger-key), or
    `log_id` itself. A logger that cannot answer its checkpoint now (429, 503) gets the
    request answered with that refusal; any other answer to it is an error."""

    requires_request_body = True

    def __init__(self, signer, clock=time.time, log_id=None, logger_key=None):
        self.signer = signer
        self.clock = clock
        self.log_id = None if log_id is None else bytes(log_id)
        self.logger_key = logger_key

    def auth_flow(self, request):
        if self.log_id is None:
            path = request.url.raw_path.split(b"?", 1)[0]
            prefix = path[: path.find(b"/v1/")] if b"/v1/" in path else b""
            answer = yield httpx2.Request(
                "GET", request.url.copy_with(raw_path=prefix + b"/v1/checkpoint")
            )
            if answer.status_code in (429, 503):
                # The logger cannot say which log it keeps now (503 while its database has
                # failed, 429 past a limit, with Retry-After): that answer is the request's,
                # for the caller to wait and ask again as it would for the request itself.
                return
            self.log_id = _log_id_of(answer, request, self.logger_key)
        request.headers["Authorization"] = authorization(
            self.signer, request.method, request.url.raw_path, request.content, self.clock(),
            self.log_id,
        )  # fmt: skip
        yield request


def _log_id_of(answer, request, logger_key):
    answer.read()
    try:
        if answer.status_code != 200:
            raise ValueError("GET /v1/checkpoint answered %d" % answer.status_code)
        checkpoint = Checkpoint.decode(bytes.fromhex(answer.json()["checkpoint"]))
        if logger_key is not None:
            checkpoint.verify(PycaBackend(), logger_key)
        return checkpoint.log_id
    except (ValueError, KeyError, TypeError, RecursionError, PurseError) as exc:
        raise LogIdUnknown(
            "cannot sign a request for this logger: its checkpoint, which names its log id,"
            " could not be read or is not signed by the logger's key (%s)" % exc,
            request=request,
        ) from None
