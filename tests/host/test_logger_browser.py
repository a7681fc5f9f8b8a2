"""The operator's browser path in a real headless Chromium: the session cookie that
`icpurse logger login` mints is put into Chromium as docs/OPERATIONS.md says (Path=/, HttpOnly,
SameSite=Strict), and Chromium reads the operator's pages with it from a real `logger serve`
process, while nothing that changes something goes through with it (api/guard.py).

tests/host/test_logger_roles.py tests the same rules with httpx against the app in this process;
here the browser decides what it sends (its cookie jar, page scripts, its same-site rules), so
what is tested is what an operator's browser does. Playwright drives Debian's Chromium
(tools/system-packages.sh installs it); one browser serves the whole module, each test a fresh
context (cookie jar) of its own."""

import json
import os
import shutil
import stat
import time
from types import SimpleNamespace

import pytest
from bank import Bank, icpurse
from mp_support import need

from icpurse.authority import keys
from icpurse.logger.access.policy import SESSION_COOKIE, SESSION_SECONDS, Access
from purse.crypto.backend import Signer
from purse.crypto.pure import PureBackend

CHROMIUM = "chromium"
# The attributes docs/OPERATIONS.md gives the cookie in a browser, which `--cookie-file` writes
# beside its name, value, url and expires: the url gives Path=/ and the host, and Secure when it
# is https.
BROWSER_ATTRIBUTES = {"httpOnly": True, "sameSite": "Strict"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """The CA, the issuer and a real `icpurse logger serve` that knows one operator's key."""
    bank = Bank(tmp_path_factory.mktemp("browser"), operator=True)
    yield bank
    bank.close()


@pytest.fixture(scope="module")
def login(deployment):
    """`icpurse logger login --cookie-file` as the operator runs it: the command's result and
    the cookie file it wrote."""
    path = deployment.tmp / "cookie.json"
    done = icpurse(
        "logger", "login", *deployment.logger_args(),
        "--operator-key", deployment.operator_key, "--cookie-file", path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done, path


@pytest.fixture(scope="module")
def cookie(login):
    """The cookie as a browser driver takes it: the file as it is."""
    _, path = login
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    need(sync_playwright is not None, "the Python package playwright (make venv installs it)")
    executable = shutil.which(CHROMIUM)
    need(
        executable is not None,
        "Debian's chromium package (tools/system-packages.sh installs it when run as root)",
    )
    with sync_playwright() as playwright:
        # Debian's Chromium, not a browser Playwright would download: only the package
        # registries can be reached from CI, and this is the browser an operator installs.
        chromium = playwright.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile's cookie jar and pages, closed after the test."""
    ctx = browser.new_context()
    yield ctx
    ctx.close()


def _with_cookie(context, value, cookie):
    context.clear_cookies()
    context.add_cookies([{**cookie, "value": value}])


def _page_json(page):
    """The JSON document a page shows, read from what Chromium rendered."""
    return json.loads(page.locator("body").inner_text())


def _issued_voucher(deployment, secret):
    """A valid voucher of a new card (its key's scalar: `secret`, a small number) that the
    issuer signed and the logger has not recorded."""
    card = Signer(PureBackend(), secret.to_bytes(32, "big"))
    cert = deployment.ca.certify(card.public_key, 0, 2**32 - 1)
    deployment.issuer.register(cert.encode())
    voucher = deployment.issuer.load(
        cert.card_id, 700, int(time.time()), log_id=deployment.logger.log_id()
    )
    return cert.card_id, voucher.encode()


def test_login_writes_the_cookie_for_a_browser_driver(deployment, login):
    done, path = login
    cookie = json.loads(path.read_text())
    assert set(cookie) == {"name", "value", "url", "expires", *BROWSER_ATTRIBUTES}
    assert {k: cookie[k] for k in BROWSER_ATTRIBUTES} == BROWSER_ATTRIBUTES
    assert cookie["name"] == SESSION_COOKIE and cookie["url"] == deployment.server.url
    # The command prints the same cookie it writes, and it lasts the session's 15 minutes.
    assert done.stdout.strip() == "%s=%s" % (SESSION_COOKIE, cookie["value"])
    assert time.time() < cookie["expires"] <= time.time() + SESSION_SECONDS
    # The file holds a credential: only its owner may read it.
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_chromium_reads_the_operators_pages_with_the_session_cookie(deployment, context, cookie):
    page = context.new_page()
    url = deployment.server.url
    # Without the cookie the browser is nobody: the operator's pages are refused.
    answer = page.goto(url + "/v1/ledger")
    assert answer.status == 401
    assert "an operator key" in _page_json(page)["error"]
    context.add_cookies([cookie])
    answer = page.goto(url + "/v1/ledger")
    assert answer.status == 200, answer.text()
    assert answer.headers["content-type"] == "application/json"
    # Chromium keeps no copy of the ledger once the session ends, and reads it only as JSON.
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    # What Chromium shows is the ledger the operator's signed read gets.
    assert _page_json(page) == deployment.logger.ledger()
    # A card's history too, once the logger has one.
    card_id, voucher = _issued_voucher(deployment, 5)
    deployment.logger.publish_voucher(voucher)
    answer = page.goto(url + "/v1/cards/" + card_id.hex())
    assert answer.status == 200, answer.text()
    assert _page_json(page) == deployment.logger.card(card_id)
    assert page.goto(url + "/v1/alerts").status == 200
    # HttpOnly: the page's own scripts cannot read the token, though the browser sends it.
    assert page.evaluate("document.cookie") == ""
    stored = context.cookies(url)
    assert [(c["name"], c["path"], c["httpOnly"], c["sameSite"]) for c in stored] == [
        (SESSION_COOKIE, "/", True, "Strict")
    ]


# fetch() from the page, with the page's own cookie; the status and the answer's text.
_FETCH = """async ([path, method, body]) => {
    const answer = await fetch(path, {method, body, credentials: "same-origin",
                                      headers: body ? {"content-type": "application/json"} : {}});
    return [answer.status, await answer.text()];
}"""


def test_page_scripts_read_with_the_cookie_and_change_nothing(deployment, context, cookie):
    url = deployment.server.url
    context.add_cookies([cookie])
    page = context.new_page()
    # A page of the logger's own origin (a public one), whose scripts then call the API.
    assert page.goto(url + "/openapi.json").status == 200
    status, text = page.evaluate(_FETCH, ["/v1/ledger", "GET", None])
    assert status == 200 and json.loads(text) == deployment.logger.ledger()
    # The cookie is what admits the read: the same fetch without credentials is refused.
    omitted = page.evaluate(
        "async (p) => (await fetch(p, {credentials: 'omit'})).status", "/v1/ledger"
    )
    assert omitted == 401

    card_id, voucher = _issued_voucher(deployment, 7)
    before = deployment.logger.ledger()
    assert card_id.hex() not in before["cards"]
    writes = [
        ("/v1/vouchers", {"voucher": voucher.hex(), "reason": "load"}),
        ("/v1/recoveries", {"card_id": card_id.hex(), "successor": "00" * 8}),
        ("/v1/session", None),
    ]
    for path, body in writes:
        with page.expect_request(url + path) as sent:
            status, text = page.evaluate(
                _FETCH, [path, "POST", None if body is None else json.dumps(body)]
            )
        # Chromium did send the session cookie, and the logger refused the write all the same.
        assert sent.value.header_value("cookie") == "%s=%s" % (SESSION_COOKIE, cookie["value"])
        assert status == 401, (path, status, text)
        assert "needs a request signed with" in json.loads(text)["error"]
    assert deployment.logger.ledger() == before
    # The refused voucher was a real one: signed by the issuer's key, it changes the ledger.
    deployment.logger.publish_voucher(voucher)
    assert deployment.logger.ledger()["cards"][card_id.hex()]["balance"] == 700


def _forger(deployment, clock):
    """An Access holding the logger's own session secret (derived from its key, as each of the
    logger's workers derives it), whose clock is `clock`: it makes tokens the logger's MAC
    accepts, to test what the logger does with an expired one."""
    service = SimpleNamespace(
        ca_key=deployment.ca.signer.public_key,
        issuer_key=deployment.issuer.signer.public_key,
        signer=keys.load_signer(deployment.server.key),
        # Only its session tokens are used here, and they do not name the log.
        log_id=bytes(8),
    )
    operator = keys.read_public(str(deployment.operator_key) + ".pub")
    return Access.for_service(service, [operator], clock=clock), operator


def test_expired_and_tampered_cookies_are_refused(deployment, context, cookie):
    page = context.new_page()
    ledger = deployment.server.url + "/v1/ledger"

    def read_with(value):
        _with_cookie(context, value, cookie)
        answer = page.goto(ledger)
        return answer.status, _page_json(page).get("error", "")

    forger, operator = _forger(deployment, time.time)
    fresh, _ = forger.new_session(operator)
    # The forger's secret is the logger's: a token it makes now is taken, so the refusals
    # below are the logger judging expiry and tampering, not a secret the test got wrong.
    assert read_with(fresh)[0] == 200
    past, _ = _forger(deployment, lambda: time.time() - SESSION_SECONDS - 60)
    expired, _ = past.new_session(operator)
    assert read_with(expired) == (401, "the session has expired: run `icpurse logger login` again")
    # The expired token's time moved 30 minutes on, under its old MAC.
    _, body, mac = expired.split(".")
    later = int(body[:16], 16) + 1800
    assert read_with("v1.%016x%s.%s" % (later, body[16:], mac))[0] == 401
    # The CLI's cookie with one MAC digit changed, and cut short.
    value = cookie["value"]
    changed = value[:-1] + ("0" if value[-1] != "0" else "1")
    for bad in (changed, value[:-2]):
        assert read_with(bad) == (401, "the session cookie is not one this logger makes")
    # A well-made token of a key that is not an operator's (the issuer's) reads nothing.
    issuers, _ = forger.new_session(deployment.issuer.signer.public_key)
    assert read_with(issuers) == (401, "the session's operator key is no longer an operator's")
    # And the real cookie, put back, still reads: none of the above spoilt the session.
    assert read_with(value)[0] == 200


def test_a_page_of_another_site_cannot_read_through_the_operators_browser(
    deployment, context, cookie
):
    """SameSite=Strict keeps the cookie off whatever another site's pages start, links
    included, and the logger sends no CORS headers, so such a page's scripts cannot read an
    answer anyway. The other site is the same logger named http://localhost: a site of its own
    to the browser."""
    context.add_cookies([cookie])
    page = context.new_page()
    url = deployment.server.url
    other = url.replace("127.0.0.1", "localhost")
    assert other != url and page.goto(other + "/openapi.json").status == 200
    # A link to the ledger on that site, followed: the navigation goes out without the cookie
    # (SameSite=Lax would send it) and is refused.
    page.evaluate(
        """(target) => {
            const link = document.createElement("a");
            link.href = target;
            link.textContent = "the ledger";
            document.body.append(link);
        }""",
        url + "/v1/ledger",
    )
    with page.expect_response(url + "/v1/ledger") as seen:
        page.get_by_text("the ledger").click()
    assert seen.value.request.header_value("cookie") is None
    assert seen.value.status == 401
    # The same address typed in (as page.goto navigates) carries the session: it was only the
    # other site's link that went without it.
    assert page.goto(url + "/v1/ledger").status == 200
    # A script of that site that asks for the ledger with credentials gets no answer: the
    # logger sends no Access-Control-Allow-Origin, so Chromium keeps the answer from it.
    assert page.goto(other + "/openapi.json").status == 200
    failed = page.evaluate(
        """async (target) => {
            try { await fetch(target, {credentials: "include"}); return ""; }
            catch (error) { return error.name; }
        }""",
        url + "/v1/ledger",
    )
    assert failed == "TypeError"
