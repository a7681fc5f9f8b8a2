"""Roles and authentication at the logger (issue 22, problems 1 and 4): the issuer's, the
CA's and an operator's requests are signed with their own keys, and nobody else gets
recoveries, vouchers, revocations, the ledger, leaves or card histories. Each refusal below was
an answer 200 before: any client could pick a recovered balance's successor or read every
card's history."""

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from logger_fixtures import LoggerWorld
from starlette.testclient import TestClient

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.access import roles
from icpurse.logger.access.policy import SESSION_COOKIE, Access, Denied, fingerprint_of
from icpurse.logger.access.ratelimit import RateLimiter
from icpurse.logger.access.seal import SealError, open_sealed
from icpurse.logger.access.signature import authorization, message, parse
from icpurse.logger.api import build_app
from icpurse.logger.client import LoggerError
from icpurse.logger.client.signing import LogIdUnknown, RequestSigning
from purse.crypto.backend import Signer


@pytest.fixture
def world(tmp_path):
    w = LoggerWorld("sqlite:///%s" % (tmp_path / "log.db"))
    yield w
    w.close()


def _card(world):
    a = world.new_card(b"A", 500)
    return a.client.info().card_id


def test_an_anonymous_recovery_is_refused_and_the_owners_goes_through(world):
    card = _card(world)
    world.advance(10**6)
    successor = bytes(range(8))
    answer = world.http.post(
        "/v1/recoveries", json={"card_id": card.hex(), "successor": successor.hex()}
    )
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "ICPurse-Signature"
    assert "the issuer's key" in answer.json()["error"]
    # The CA's key is a valid key of the logger, but recoveries are the issuer's.
    answer = world.http.post(
        "/v1/recoveries", json={"card_id": card.hex(), "successor": successor.hex()},
        auth=world.auth("ca"),
    )  # fmt: skip
    assert answer.status_code == 403 and "signed by the CA's key" in answer.json()["error"]
    # The refusals stored nothing: the issuer's own recovery is not refused 409 afterwards.
    world.client.publish_revocation(world.revocation([card], sequence=1))
    world.advance(10**6)
    assert world.client.recover(card, successor)


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/v1/ledger"),
        ("GET", "/v1/ledger/vouchers"),
        ("GET", "/v1/alerts"),
        ("GET", "/v1/leaves"),
        ("GET", "/v1/records/0"),
        ("GET", "/v1/in-doubt"),
        ("GET", "/v1/cards/%s" % ("00" * 8)),
        ("POST", "/v1/vouchers"),
        ("POST", "/v1/revocation"),
        ("POST", "/v1/session"),
    ],
)
def test_anonymous_readers_and_writers_are_refused(world, method, path):
    answer = world.http.request(method, path, json={} if method == "POST" else None)
    assert answer.status_code == 401, answer.text


def test_card_histories_are_the_operators_and_the_issuers(world):
    card = _card(world)
    path = "/v1/cards/%s" % card.hex()
    assert world.http.get(path).status_code == 401
    assert world.http.get(path, auth=world.auth("ca")).status_code == 403
    assert world.http.get(path, auth=world.auth("operator")).status_code == 200
    assert world.http.get(path, auth=world.auth("issuer")).status_code == 200
    # What a transparency log publishes stays public.
    for public in ("/v1/checkpoint", "/openapi.json", "/v1/status?nonce=" + "00" * 16):
        assert world.http.get(public).status_code == 200


def test_forged_stale_replayed_and_tampered_requests_are_refused(world):
    http = world.http
    operator = world.signers["operator"]
    stranger = Signer(PycaBackend(), b"\x42" * 32)
    assert http.get("/v1/ledger", auth=RequestSigning(stranger)).status_code == 401
    stale = RequestSigning(operator, clock=lambda: time.time() - 301)
    answer = http.get("/v1/ledger", auth=stale)
    assert answer.status_code == 401 and "from the logger's clock" in answer.json()["error"]
    log = world.service.log_id
    header = authorization(operator, "GET", b"/v1/ledger", b"", time.time(), log)
    assert http.get("/v1/ledger", headers={"Authorization": header}).status_code == 200
    answer = http.get("/v1/ledger", headers={"Authorization": header})
    assert answer.status_code == 401 and "replay" in answer.json()["error"]
    # Signed for another path, or over another body: the signature does not verify.
    header = authorization(operator, "GET", b"/v1/alerts", b"", time.time(), log)
    assert http.get("/v1/ledger", headers={"Authorization": header}).status_code == 401
    issuer = world.signers["issuer"]
    header = authorization(issuer, "POST", b"/v1/vouchers", b'{"voucher": "00"}', time.time(), log)
    answer = http.post(
        "/v1/vouchers", content=b'{"voucher": "01"}',
        headers={"Authorization": header, "content-type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 401 and "not validly signed" in answer.json()["error"]
    # Signed for another logger (another log id), valid in every other way: refused, so an
    # issuer's or an operator's request cannot be replayed to a second logger.
    header = authorization(operator, "GET", b"/v1/ledger", b"", time.time(), b"\x00" * 8)
    answer = http.get("/v1/ledger", headers={"Authorization": header})
    assert answer.status_code == 401 and "not validly signed" in answer.json()["error"]
    for bad in ("Bearer x", "ICPurse-Signature key=zz", "ICPurse-Signature " + "a" * 500):
        answer = http.get("/v1/ledger", headers={"Authorization": bad})
        assert answer.status_code == 401 and answer.json()["error"]


def test_a_client_signs_for_the_log_its_logger_key_vouches_for(world):
    """The log id a client signs for comes from the logger's checkpoint; with the logger's key
    given, a checkpoint signed by another key is refused before anything is signed, so a
    logger cannot collect requests signed for another one (to replay them there)."""
    operator = world.signers["operator"]
    logger_key = world.service.signer.public_key
    answer = world.http.get("/v1/ledger", auth=RequestSigning(operator, logger_key=logger_key))
    assert answer.status_code == 200
    stranger = Signer(PycaBackend(), b"\x42" * 32).public_key
    with pytest.raises(LogIdUnknown, match="not signed by the logger's key"):
        world.http.get("/v1/ledger", auth=RequestSigning(operator, logger_key=stranger))
    # A checkpoint that is not there (a proxy's 404, a logger at another path) is an error of
    # its own, not an answer passed off as the signed request's.
    with pytest.raises(LogIdUnknown, match="answered 404"):
        world.http.get("/elsewhere/v1/ledger", auth=RequestSigning(operator))


def test_a_hostile_checkpoint_answer_is_a_clear_error():
    """A server that answers the checkpoint with JSON nested past the parser's depth, or with
    something that is not a checkpoint, gets LogIdUnknown, never a traceback."""
    import httpx2

    operator = Signer(PycaBackend(), b"\x07" * 32)
    for body in (b"[" * 100000 + b"]" * 100000, b'{"checkpoint": 5}', b'{"checkpoint": "zz"}'):

        def answer(request, body=body):
            return httpx2.Response(200, content=body)

        transport = httpx2.MockTransport(answer)
        with httpx2.Client(transport=transport, base_url="http://logger") as http:
            with pytest.raises(LogIdUnknown, match="could not be read"):
                http.get("/v1/ledger", auth=RequestSigning(operator))


def test_the_signed_bytes_are_what_the_header_names():
    signer = Signer(PycaBackend(), b"\x07" * 32)
    log = bytes.fromhex("0102030405060708")
    header = authorization(signer, "post", "/v1/x?a=1", b"{}", 1234, log, b"\x01" * 16)
    cred = parse(header)
    assert (cred.key, cred.time, cred.nonce) == (signer.public_key, 1234, b"\x01" * 16)
    signed = message("POST", b"/v1/x?a=1", 1234, b"\x01" * 16, b"{}", log)
    # A request signature never starts like a record's signed bytes (a TLV tag), and names
    # the log it is for first.
    assert signed.startswith(
        b"icpurse/request-signature/v2\n0102030405060708\nPOST\n/v1/x?a=1\n1234\n"
    )
    assert PycaBackend().verify(signer.public_key, signed, cred.signature) is None


def test_an_operator_session_reads_and_changes_nothing(world):
    session = world.client.session(world.operator_private())
    assert session["cookie"] == SESSION_COOKIE
    browser = TestClient(world.app, base_url="http://logger")
    browser.cookies.set(SESSION_COOKIE, session["session"])
    assert browser.get("/v1/ledger").status_code == 200
    assert browser.get("/v1/alerts").status_code == 200
    # A session is for reading: whatever changes something is signed request by request.
    assert browser.post("/v1/vouchers", json={"voucher": "00"}).status_code == 401
    assert browser.post("/v1/session").status_code == 401
    browser.cookies.set(SESSION_COOKIE, session["session"][:-2] + "00")
    assert browser.get("/v1/ledger").status_code == 401
    # Only an operator key opens a session; the issuer's does not.
    answer = world.http.post("/v1/session", auth=world.auth("issuer"))
    assert answer.status_code == 403
    # One session is one token: other spellings of its hex are not it (each would have had a
    # rate-limit bucket of its own).
    browser.cookies.set(SESSION_COOKIE, session["session"].upper().replace("V1.", "v1."))
    assert browser.get("/v1/ledger").status_code == 401


def test_a_replayed_session_request_gives_the_replayer_nothing_to_use(world):
    """Another worker does not know the nonce (each remembers its own): a captured session
    request replayed there is answered, with a token sealed to the operator's key."""
    header = authorization(
        world.signers["operator"], "POST", b"/v1/session", b"", time.time(),
        world.service.log_id,
    )  # fmt: skip
    other = TestClient(build_app(world.service, operators=[world.signers["operator"].public_key]),
                       base_url="http://logger")  # fmt: skip
    answer = other.post("/v1/session", headers={"Authorization": header})
    assert answer.status_code == 200 and "session" not in answer.json()
    assert "set-cookie" not in answer.headers
    sealed = bytes.fromhex(answer.json()["sealed"])
    with pytest.raises(SealError):
        open_sealed(ec.generate_private_key(ec.SECP256R1()), sealed)
    token = open_sealed(world.operator_private(), sealed).decode()
    assert token.startswith("v1.")


def test_a_session_expires_and_dies_with_its_operator_key():
    key = Signer(PycaBackend(), b"\x09" * 32).public_key
    now = [1000.0]
    access = Access({key: {"operator"}}, b"s" * 32, b"\x07" * 8, clock=lambda: now[0])
    token, expires = access.new_session(key)
    assert access.check_session(token) == fingerprint_of(key)
    # Another worker of the same logger derives the same secret and accepts it.
    other = Access({key: {"operator"}}, b"s" * 32, b"\x07" * 8, clock=lambda: now[0])
    assert other.check_session(token)
    now[0] = expires
    with pytest.raises(Exception, match="expired"):
        access.check_session(token)
    now[0] = 1000.0
    with pytest.raises(Exception, match="no longer an operator"):
        Access({}, b"s" * 32, b"\x07" * 8, clock=lambda: now[0]).check_session(token)


def test_every_route_has_its_roles_written_down(world):
    app = world.app.app
    listed = set(roles.ROUTES)
    served = {
        (method, route.path) for route in app.routes for method in route.methods
        if method != "HEAD"
    }  # fmt: skip
    assert served == listed


def test_expensive_reads_are_limited_per_client(world, tmp_path):
    app = build_app(world.service, operators=[world.signers["operator"].public_key], read_rate=1)
    with TestClient(app, base_url="http://logger") as http:
        answers = [http.get("/v1/ledger", auth=world.auth()).status_code for _ in range(4)]
        assert answers[:2] == [200, 200] and answers[-1] == 429
        answer = http.get("/v1/leaves", auth=world.auth())
        assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
        # Another client (the issuer's key) has a bucket of its own; cheap public reads none.
        assert http.get("/v1/ledger", auth=world.auth("issuer")).status_code == 200
        assert all(http.get("/v1/checkpoint").status_code == 200 for _ in range(5))


def test_the_rate_limiter_refills_and_stays_bounded():
    now = [0.0]
    limiter = RateLimiter(2, 2, clock=lambda: now[0], max_clients=100)
    assert limiter.take("a") is None and limiter.take("a") is None
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take("a") is None
    for i in range(1000):
        limiter.take("client-%d" % i)
    assert len(limiter._buckets) <= 100


def test_the_client_names_the_key_a_refused_request_needs(world):
    from icpurse.logger.client import LoggerClient

    anonymous = LoggerClient(logger_key=world.logger.public_key, http=world.http)
    with pytest.raises(LoggerError) as refused:
        anonymous.ledger()
    assert refused.value.status == 401 and "--operator-key" in refused.value.reason
    assert json.loads(json.dumps(world.client.ledger()))["cards"] is not None


def test_nonces_are_kept_per_key_until_their_request_expires():
    """A key that signs faster than its share is refused on its own (issue 22 attacker review:
    one role's key filled a memory all keys shared, and the issuer got 503), and a nonce is
    kept for as long as its request could be accepted, not a second less."""
    ca, issuer = (Signer(PycaBackend(), bytes([k]) * 32) for k in (3, 4))
    now = [10_000.0]
    log = b"\x07" * 8
    access = Access({ca.public_key: {"ca"}, issuer.public_key: {"issuer"}}, b"s" * 32, log,
                    clock=lambda: now[0], nonces_per_key=3)  # fmt: skip

    def send(signer, role, at, nonce):
        header = authorization(signer, "POST", b"/v1/x", b"", at, log, nonce)
        return access.check_signed(header, "POST", b"/v1/x", b"", frozenset({role}))

    for k in range(3):
        send(ca, "ca", now[0], bytes([k]) * 16)
    with pytest.raises(Denied) as full:
        send(ca, "ca", now[0], b"\x09" * 16)
    assert full.value.status == 503
    assert send(issuer, "issuer", now[0], b"\x01" * 16) == issuer.public_key
    # Signed 300 s ahead of the logger's clock: acceptable until 600 s from now, and its
    # nonce is still known then.
    send(issuer, "issuer", now[0] + 300, b"\x02" * 16)
    now[0] += 600
    with pytest.raises(Denied, match="replay"):
        send(issuer, "issuer", now[0] - 300, b"\x02" * 16)
    # The CA's old nonces have expired: it may sign again.
    send(ca, "ca", now[0], b"\x0a" * 16)


def test_unknown_keys_and_bad_signatures_get_one_answer(world):
    stranger = Signer(PycaBackend(), b"\x42" * 32)
    unknown = world.http.get("/v1/ledger", auth=RequestSigning(stranger)).json()["error"]
    header = authorization(
        world.signers["ca"], "GET", b"/v1/alerts", b"", time.time(), world.service.log_id
    )
    forged = world.http.get("/v1/ledger", headers={"Authorization": header}).json()["error"]
    assert unknown == forged
