"""What every route of the logger's API shares: reading a request's JSON, hex and query
parameters, and turning the service's exceptions into answers with a reason."""

import asyncio
import json

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from icpurse.logger import merkle
from icpurse.logger.sequencer import Overloaded
from icpurse.logger.service.errors import SubmitError, Unavailable, WindowOpen
from icpurse.logger.storage import DatabaseFailure
from purse import proto

MAX_BODY = 1024 * 1024
# How long a request's body may take to arrive once its headers have (`logger serve
# --body-timeout`): a client that trickles its body holds a connection and a file descriptor,
# and enough of them stop the logger answering anyone.
BODY_TIMEOUT = 10.0
# Where the application puts its body timeout in each request's ASGI scope.
BODY_TIMEOUT_KEY = "icpurse.body_timeout"
MAX_RECORD_HEX = 2 * 4096
# Seconds a client waits before it asks again when the database failed: an operator may have
# to act (a restarted server comes back by itself, a damaged file does not).
DB_RETRY_AFTER = "5"


class BadRequest(Exception):
    def __init__(self, status, reason, headers=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers


def error(status, reason, headers=None):
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


async def read_body(request):
    """The request's body, at most MAX_BODY bytes, arrived within the body timeout."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise BadRequest(413, "the body is larger than %d bytes" % MAX_BODY)
    seconds = request.scope.get(BODY_TIMEOUT_KEY, BODY_TIMEOUT)
    try:
        return await asyncio.wait_for(_body(request), seconds)
    except ClientDisconnect:
        # The client went away with its body half sent: nobody reads the answer, and it is no
        # fault of the logger's to log with a traceback.
        raise BadRequest(400, "the client closed the connection before its body arrived",
                         {"Connection": "close"}) from None  # fmt: skip
    except asyncio.TimeoutError:
        # Connection: close makes uvicorn drop the connection after this answer, with whatever
        # of the body is still on its way.
        raise BadRequest(
            408, "the body did not arrive within %g s" % seconds, {"Connection": "close"}
        ) from None


async def read_json(request):
    """The request's body: a JSON object of at most MAX_BODY bytes."""
    body = await read_body(request)
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(400, "the body is not JSON") from None
    except RecursionError:
        # Arrays or objects nested some thousands deep: Python's parser recurses per level.
        raise BadRequest(400, "the body's JSON is nested too deeply") from None
    if not isinstance(value, dict):
        raise BadRequest(400, "the body must be a JSON object")
    return value


async def _body(request):
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BadRequest(413, "the body is larger than %d bytes" % MAX_BODY)
    return body


def unhex(value, name, limit=MAX_RECORD_HEX):
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(400, "%s must be a hex string of at most %d digits" % (name, limit))
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise BadRequest(400, "%s is not hex" % name) from None


def hex_list(body, key, limit):
    """body[key]: a list of 1 to `limit` hex strings, as bytes."""
    values = body.get(key)
    if not isinstance(values, list) or not 1 <= len(values) <= limit:
        raise BadRequest(400, "%s must be a list of 1 to %d hex strings" % (key, limit))
    return [unhex(v, "%s[%d]" % (key, i)) for i, v in enumerate(values)]


def card_id(text):
    """A card id (IdU) given as hex."""
    value = unhex(text, "card id", 2 * proto.CARD_ID_SIZE)
    if len(value) != proto.CARD_ID_SIZE:
        raise BadRequest(400, "a card id is %d bytes (%d hex digits)"
                         % (proto.CARD_ID_SIZE, 2 * proto.CARD_ID_SIZE))  # fmt: skip
    return value


def query_int(request, name, minimum=0):
    text = request.query_params.get(name, "")
    if not text.isdigit() or int(text) < minimum or int(text) >= 2**63:
        raise BadRequest(400, "query parameter %s must be a whole number >= %d" % (name, minimum))
    return int(text)


def start(request):
    """The `start` query parameter of a paged table, 0 if absent."""
    return query_int(request, "start") if "start" in request.query_params else 0


def page(names, rows, following, **fields):
    """A page of database rows as JSON objects, bytes as hex, with `next`: the cursor of the
    page after it, or None when this page is the last (`following` is that cursor, or None,
    for a page that came out full)."""
    return JSONResponse(
        {
            **fields,
            "rows": [dict(zip(names, map(_plain, r), strict=True)) for r in rows],
            "next": following,
        }
    )


def _plain(value):
    """A database value as JSON: bytes as hex."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


async def off_loop(func, *args):
    """Database reads run on a worker thread, so they never stall the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


def endpoint(handler, service):
    """The route of `handler(service, request)`, which turns the API's exceptions into
    answers, so every route says what went wrong."""

    async def wrapped(request: Request):
        try:
            return await handler(service, request)
        except BadRequest as exc:
            return error(exc.status, exc.reason, exc.headers)
        except WindowOpen as exc:
            return error(exc.status, exc.reason, {"Retry-After": str(exc.retry_after)})
        except SubmitError as exc:
            return error(exc.status, exc.reason)
        except (Unavailable, Overloaded) as exc:
            return error(503, str(exc), {"Retry-After": "1"})
        except merkle.ProofError as exc:
            return error(400, str(exc))
        except DatabaseFailure as exc:
            return error(
                503, "the logger's database failed: %s" % exc, {"Retry-After": DB_RETRY_AFTER}
            )

    return wrapped
