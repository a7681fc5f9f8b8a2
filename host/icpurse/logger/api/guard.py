"""What every request meets before a route: the body timeout, the submit fast path, the
roles a route needs (access/roles.py) and the per-client limit on expensive reads.

A route that needs a role takes a signed request (access/signature.py) by a key holding it,
or, for a read the operator may make, an operator session cookie (`icpurse logger login`).
The body is read here, within the body timeout, because the signature covers its hash; the
route then reads the same bytes again.
"""

from starlette.requests import Request
from starlette.routing import Match

from icpurse.logger.access import roles as role_names
from icpurse.logger.access.policy import SESSION_COOKIE, Denied, fingerprint_of
from icpurse.logger.access.signature import SCHEME
from icpurse.logger.api.requests import (
    BODY_TIMEOUT,
    BODY_TIMEOUT_KEY,
    BadRequest,
    error,
    read_body,
)

# Where the guard leaves the key that signed a request, for the routes that need it.
KEY_SCOPE = "icpurse.key"
# Default per-client limit on expensive reads (`logger serve --read-rate`): requests a second,
# and twice as many at once.
READ_RATE = 20.0


class Guard:
    """The ASGI application in front of Starlette's. `endpoints`: the submit routes' endpoint
    functions by path (see below); `access`: an access.policy.Access; `limiter`: a
    RateLimiter for the expensive reads, or None."""

    def __init__(self, app, routes, endpoints, access, limiter, body_timeout=BODY_TIMEOUT):
        self.app = app
        self.routes = routes
        self.endpoints = endpoints
        self.access = access
        self.limiter = limiter
        self.body_timeout = body_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every route reads its body through requests.read_body, which takes it from here.
        scope[BODY_TIMEOUT_KEY] = self.body_timeout
        if scope["method"] == "POST":
            endpoint = self.endpoints.get(scope["path"])
            if endpoint is not None:
                # The submit endpoints, answered without Starlette's middleware and router.
                # Every request to the logger crosses Starlette's error and exception
                # middleware, its router (which tries the routes one by one) and the
                # request-response wrapper, and each layer wraps `send` once more. These two
                # public routes run the same endpoint functions with the same Request and
                # JSONResponse without those layers: under single-record submissions the
                # worker's CPU per record fell from 247 to 206 µs and p99 from 29 to 24 ms
                # (means of five alternating runs).
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        route = self._route(scope)
        if route is None:
            # Not a path and method of the API: Starlette answers 404 or 405 with a reason.
            await self.app(scope, receive, send)
            return
        if role_names.needed(scope["method"], route.path):
            send = _private(send)
        try:
            receive = await self._admit(scope, receive, route)
        except Denied as exc:
            headers = {"WWW-Authenticate": SCHEME} if exc.status == 401 else {}
            if scope["method"] == "POST":
                # Refused before its body was read: whatever of it is still on its way is not
                # waited for, and the connection goes with it.
                headers["Connection"] = "close"
            await error(exc.status, exc.reason, headers)(scope, receive, send)
            return
        except BadRequest as exc:
            await error(exc.status, exc.reason, exc.headers)(scope, receive, send)
            return
        except _Limited as exc:
            await error(429, exc.reason, {"Retry-After": exc.retry_after})(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _route(self, scope):
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                return route
        return None

    async def _admit(self, scope, receive, route):
        """Check the request's role and limit; the `receive` the application reads it with."""
        method = scope["method"]
        needed = role_names.needed(method, route.path)
        client = scope["client"][0] if scope.get("client") else "?"
        if needed:
            request = Request(scope, receive)
            header = request.headers.get("authorization")
            cookie = request.cookies.get(SESSION_COOKIE)
            if header is not None:
                credentials = self.access.admit(header, needed)
                body = await read_body(request)
                target = scope.get("raw_path") or scope["path"].encode("latin-1")
                if scope.get("query_string"):
                    target += b"?" + scope["query_string"]
                key = self.access.verify(credentials, method, target, body, needed)
                scope[KEY_SCOPE] = key
                # One bucket per key, shared with the sessions it opened.
                client = "key " + fingerprint_of(key).hex()
                receive = _replay(body, receive)
            elif cookie is not None and method == "GET" and "operator" in needed:
                # A session is for reading only: whatever changes something is signed.
                client = "key " + self.access.check_session(cookie).hex()
            else:
                path = scope["path"] if len(scope["path"]) <= 80 else scope["path"][:80] + "..."
                raise Denied(
                    401, "%s %s needs a request signed with %s"
                    % (method, path, role_names.describe(needed))
                )  # fmt: skip
        if self.limiter is not None and (method, route.path) in role_names.EXPENSIVE:
            wait = self.limiter.take(client)
            if wait is not None:
                raise _Limited(
                    "too many reads from %s: at most %g a second" % (client, self.limiter.rate),
                    str(max(1, int(wait + 0.999))),
                )
        return receive


# What a role's answers carry: a browser (an operator's session) must not keep a ledger or a
# card's history in its cache after the session ends, nor read an answer as anything but the
# JSON it says it is.
_PRIVATE = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))


def _private(send):
    """`send` with the _PRIVATE headers added to the response's start."""

    async def private(message):
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", ()), *_PRIVATE]
        await send(message)

    return private


class _Limited(Exception):
    def __init__(self, reason, retry_after):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _replay(body, receive):
    """A `receive` that gives the body already read, then the client's own messages (a
    disconnect)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
