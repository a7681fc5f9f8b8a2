"""Signing the requests a role makes, as an httpx Auth: the LoggerClient uses it for the
issuer's, the CA's and an operator's requests, and so can any httpx client (tests, scripts)."""

import time

import httpx2

from icpurse.logger.access.signature import authorization


class RequestSigning(httpx2.Auth):
    """Sign every request with `signer` (a purse Signer): access/signature.py's header over
    the method, the target as sent, the time, a fresh nonce and the body."""

    requires_request_body = True

    def __init__(self, signer, clock=time.time):
        self.signer = signer
        self.clock = clock

    def auth_flow(self, request):
        request.headers["Authorization"] = authorization(
            self.signer, request.method, request.url.raw_path, request.content, self.clock()
        )
        yield request
