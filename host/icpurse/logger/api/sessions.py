"""The operator's session for a browser: `POST /v1/session`, signed with an operator key,
answers a session token sealed to that key (access/seal.py); `icpurse logger login` opens it
and prints the cookie that the operator's reads accept until it expires (access/policy.py).

The token is sealed, and no Set-Cookie is sent, because the logger's workers remember nonces
each for itself: a captured request replayed to another worker is answered, but only the
operator can open the answer. The pages a browser shows only read; whatever changes something
is signed request by request."""

from datetime import datetime, timezone

from starlette.responses import JSONResponse
from starlette.routing import Route

from icpurse.logger.access.policy import SESSION_COOKIE
from icpurse.logger.access.seal import seal


def routes(service, access):
    async def session(request):
        from icpurse.logger.api.guard import KEY_SCOPE

        key = request.scope[KEY_SCOPE]
        token, expires = access.new_session(key)
        return JSONResponse(
            {
                "sealed": seal(key, token.encode("ascii")).hex(),
                "cookie": SESSION_COOKIE,
                "expires": expires,
                "expires_at": datetime.fromtimestamp(expires, timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
        )

    return [Route("/v1/session", session, methods=["POST"])]
