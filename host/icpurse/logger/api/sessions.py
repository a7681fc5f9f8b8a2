"""The operator's session for a browser: `POST /v1/session`, signed with an operator key,
answers a token and sets it as a cookie that the operator's reads accept until it expires
(access/policy.py). The pages a browser shows only read; whatever changes something is signed
request by request."""

from datetime import datetime, timezone

from starlette.responses import JSONResponse
from starlette.routing import Route

from icpurse.logger.access.policy import SESSION_COOKIE, SESSION_SECONDS


def routes(service, access):
    async def session(request):
        from icpurse.logger.api.guard import KEY_SCOPE

        token, expires = access.new_session(request.scope[KEY_SCOPE])
        answer = JSONResponse(
            {
                "session": token,
                "cookie": SESSION_COOKIE,
                "expires": expires,
                "expires_at": datetime.fromtimestamp(expires, timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
        )
        answer.set_cookie(
            SESSION_COOKIE, token, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip
        return answer

    return [Route("/v1/session", session, methods=["POST"])]
