"""The logger's HTTP API (JSON over Starlette; the description is served at /openapi.json):
the application factory, its lifespan and the fast path of the submit routes. The routes are
grouped in records.py, proofs.py, cards.py and settlement.py.

Binary values (records, receipts, keys, nonces, proof hashes) travel as lowercase hex strings.
Every bad input gets a 4xx answer with a reason and stores nothing half-way; a record is
answered only once its commit is durable.
"""

import asyncio
import contextlib

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.routing import Match, Route

from icpurse.logger.access.policy import Access
from icpurse.logger.access.ratelimit import RateLimiter
from icpurse.logger.api import cards, proofs, records, sessions, settlement
from icpurse.logger.api.guard import READ_RATE, Guard
from icpurse.logger.api.openapi import OPENAPI
from icpurse.logger.api.requests import BODY_TIMEOUT, error, off_loop
from icpurse.logger.service.logger_service import HEARTBEAT_SECONDS

# How often the write-ahead log is copied into the database (SQLite).
CHECKPOINT_SECONDS = 0.5


def build_app(service, body_timeout=BODY_TIMEOUT, operators=(), read_rate=READ_RATE,
              access=None):  # fmt: skip
    """The Starlette application around a LoggerService, behind the Guard (guard.py).

    A request body that takes longer than `body_timeout` seconds to arrive is answered 408
    and its connection closed. `operators`: the operator keys (PkO) whose signed requests and
    sessions read the ledger; the issuer and the CA sign with the anchors the service holds.
    `read_rate`: expensive reads a second per client (0: no limit). `access`: an Access to
    use instead of the one made from the service (tests).
    """
    if access is None:
        access = Access.for_service(service, operators)
    routes = [
        *records.routes(service),
        *proofs.routes(service),
        *cards.routes(service),
        *settlement.routes(service),
        *sessions.routes(service, access),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=_lifespan(service),
        exception_handlers={HTTPException: _not_in_the_api(routes)},
    )
    submit = {
        r.path: r.endpoint
        for r in routes
        if r.path in records.SUBMIT_PATHS and "POST" in r.methods
    }
    limiter = RateLimiter(read_rate, 2 * read_rate) if read_rate else None
    return Guard(app, routes, submit, access, limiter, body_timeout)


async def openapi(request):
    return JSONResponse(OPENAPI)


def _lifespan(service):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        service.sequencer.start()
        await service.verifier.start()
        await off_loop(service.appender.start)
        await service.sequencer.run_alone(service.heartbeat)
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(_heartbeat(service)), loop.create_task(_checkpoints(service))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await service.sequencer.stop()
            service.close()

    return lifespan


def _not_in_the_api(routes):
    async def not_in_the_api(request, exc):
        # Starlette's router answers a path or a method it has no route for in plain text; the
        # API answers JSON with a reason everywhere, which the client library reports.
        path = request.url.path
        shown = path if len(path) <= 80 else path[:80] + "..."
        if exc.status_code == 405:
            allowed = sorted(
                {m for r in routes if r.matches(request.scope)[0] == Match.PARTIAL
                 for m in r.methods}
            )  # fmt: skip
            methods = ", ".join(allowed)
            reason = "%s is not allowed on %s, only %s" % (request.method, shown, methods)
            return error(405, reason, {"Allow": methods})
        if exc.status_code == 404:
            return error(404, "the logger's API has no %s (see /openapi.json)" % shown)
        return error(exc.status_code, exc.detail, exc.headers)

    return not_in_the_api


async def _heartbeat(service):
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        if service.sequencer.queued == 0:
            try:
                await service.sequencer.run_alone(service.heartbeat)
            except Exception as exc:  # noqa: BLE001 - a failed heartbeat makes the status 503.
                service.sequencer.last_error = exc


async def _checkpoints(service):
    """Checkpoint the write-ahead log off the sequencer's path (storage.checkpoint_wal)."""
    while True:
        await asyncio.sleep(CHECKPOINT_SECONDS)
        try:
            await off_loop(service.checkpoint_wal)
        except Exception:  # noqa: BLE001, S110 - a busy or failed checkpoint is retried next time.
            pass
