"""Property test: no input, however malformed, makes the logger answer with a 5xx."""

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from icpurse.bench.loadgen import LoadGenerator
from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.api import build_app
from icpurse.logger.client.signing import RequestSigning
from icpurse.logger.service import LoggerService
from icpurse.logger.storage import open_storage
from purse.crypto.backend import Signer

GEN = LoadGenerator(b"fuzz", cards=3)
GOOD = GEN.records(4)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
url_text = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", max_size=20)


def _mutations():
    """Hex strings that are almost records: truncated, extended, flipped, spliced."""
    # Read at draw time: _client remakes the records for its logger's log.
    base = st.integers(0, len(GOOD) - 1).map(lambda i: GOOD[i])
    return st.one_of(
        st.builds(lambda r, k: r[:k].hex(), base, st.integers(0, 600)),
        st.builds(lambda r, extra: (r + extra).hex(), base, st.binary(max_size=8)),
        st.builds(
            lambda r, i, b: (r[: i % len(r)] + bytes([b]) + r[i % len(r) + 1 :]).hex(),
            base,
            st.integers(0, 10**4),
            st.integers(0, 255),
        ),
        st.binary(max_size=64).map(bytes.hex),
        st.text(max_size=40),
    )


def _client(tmp_path_factory):
    db = tmp_path_factory.mktemp("fuzz") / "log.db"

    service = LoggerService(open_storage(db), Signer(PycaBackend(), b"\x07" * 32),
                            GEN.ca.public_key, GEN.issuer.public_key)  # fmt: skip
    client = TestClient(build_app(service))
    client.__enter__()
    issuer = RequestSigning(GEN.issuer)
    # Records of the service's log, whose payers' vouchers it takes.
    GEN.join(service.log_id)
    GOOD[:] = GEN.records(len(GOOD))
    for voucher in GEN.vouchers():
        client.post("/v1/vouchers", json={"voucher": voucher.hex()}, auth=issuer)
    return client


def test_no_input_causes_a_server_error(tmp_path_factory):
    client = _client(tmp_path_factory)
    paths = ["/v1/record", "/v1/records", "/v1/vouchers", "/v1/revocation", "/v1/payments",
             "/v1/recoveries"]  # fmt: skip
    keys = ["record", "records", "voucher", "revocation", "payments", "card_id", "successor",
            "reason", "reference", "x"]  # fmt: skip

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        path=st.sampled_from(paths),
        body=st.one_of(
            json_values.map(json.dumps),
            st.builds(lambda k, v: json.dumps({k: v}), st.sampled_from(keys), _mutations()),
            st.builds(lambda v: json.dumps({"records": v}), st.lists(_mutations(), max_size=4)),
            st.builds(lambda v: json.dumps({"payments": v}), st.lists(_mutations(), max_size=4)),
            st.builds(
                lambda v, r, ref: json.dumps({"voucher": v, "reason": r, "reference": ref}),
                _mutations(),
                st.sampled_from(["load", "refund", "recovery", "x", 5]),
                st.one_of(st.none(), url_text, st.binary(max_size=80).map(bytes.hex)),
            ),
            st.builds(
                lambda a, b: json.dumps({"card_id": a, "successor": b}),
                st.one_of(url_text, st.binary(min_size=8, max_size=8).map(bytes.hex)),
                st.one_of(url_text, st.binary(min_size=8, max_size=8).map(bytes.hex)),
            ),
            st.binary(max_size=50).map(lambda b: b.decode("latin-1")),
        ),
    )
    def post(path, body):
        answer = client.post(path, content=body, headers={"content-type": "application/json"})
        assert answer.status_code < 500, (path, body, answer.text)

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        path=st.sampled_from(
            [
                "/v1/status",
                "/v1/proofs/inclusion",
                "/v1/proofs/consistency",
                "/v1/cards/%s",
                "/v1/cards/%s/voucher",
                "/v1/in-doubt",
                "/v1/ledger/%s",
                "/v1/leaves",
                "/v1/ledger",
                "/v1/records/%d",
            ]
        ),
        params=st.dictionaries(
            st.sampled_from(["nonce", "index", "size", "old", "new", "card", "start"]),
            st.one_of(st.integers(-5, 10**20).map(str), st.text(max_size=40)),
            max_size=3,
        ),
        card=url_text,
        # Beyond 2**63, where the database's integers stop, too.
        index=st.integers(-5, 10**25),
    )
    def get(path, params, card, index):
        if "%s" in path:
            path = path % card
        elif "%d" in path:
            path = path % index
        answer = client.get(path, params=params)
        assert answer.status_code < 500, (path, params, answer.text)

    post()
    get()
    # The good records still go in after all that.
    for record in GOOD:
        assert client.post("/v1/record", json={"record": record.hex()}).status_code == 200
    client.__exit__(None, None, None)
