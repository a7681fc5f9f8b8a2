"""schemathesis's hooks for the logger (loaded through SCHEMATHESIS_HOOKS by
test_schemathesis.py): every request schemathesis sends is signed as the role its operation
needs, with the keys the test made, so the authenticated operations are exercised beyond
their 401. schemathesis's own `ignored_auth` check sends them unsigned too and expects 401."""

import json
import os
import time

import requests
import schemathesis

from icpurse.authority import keys
from icpurse.logger.access.signature import authorization
from purse.records.checkpoint import Checkpoint

_ROLE_OF = {
    ("POST", "/v1/revocation"): "ca",
    ("POST", "/v1/vouchers"): "issuer",
    ("POST", "/v1/recoveries"): "issuer",
}


class _Signed(requests.auth.AuthBase):
    def __init__(self):
        paths = json.loads(os.environ["ICPURSE_TEST_ROLE_KEYS"])
        self.signers = {role: keys.load_signer(path) for role, path in paths.items()}
        self.log_id = None

    def __call__(self, request):
        path = request.path_url.split("?", 1)[0]
        role = _ROLE_OF.get((request.method, path), "operator")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if self.log_id is None:
            # The log id every signature names, from the logger's public checkpoint.
            base = request.url[: len(request.url) - len(request.path_url)]
            answer = requests.get(base + "/v1/checkpoint", timeout=30)
            answer.raise_for_status()
            checkpoint = Checkpoint.decode(bytes.fromhex(answer.json()["checkpoint"]))
            self.log_id = checkpoint.log_id
        request.headers["Authorization"] = authorization(
            self.signers[role], request.method, request.path_url, body, time.time(), self.log_id
        )
        return request


schemathesis.auth.set_from_requests(_Signed())
