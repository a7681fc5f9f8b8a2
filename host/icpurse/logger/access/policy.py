"""The logger's side of authentication: whose keys hold which roles, checking a signed
request (time, nonce, signature) and operator sessions for a browser.

One Access object lives in each worker process. Its nonce memory is the worker's own, so a
request replayed to another worker inside the time window is not recognised as a replay there.
What such a replay can do is bounded: every request that changes money is idempotent (an
identical voucher, recovery or revocation list is answered as it was the first time), a
replayed read answers the replayer what the captured request was answered, and a replayed
session request gets a token sealed to the operator's key, which only the operator opens
(sessions.py). With TLS nobody sees a request to replay it. docs/OPERATIONS.md says so too.

Nonces are kept per key, each until the time its request could no longer be accepted, and
each key may have at most NONCES_PER_KEY of them at once: a key that signs faster than that
(a leaked role key, a runaway script) is refused 503 on its own, and nobody else's request is.
"""

import hashlib
import heapq
import hmac
import re
import time

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.access import roles as role_names
from icpurse.logger.access.signature import MAX_SKEW, BadCredentials, parse
from icpurse.logger.access.signature import message as signed_message
from purse.errors import InvalidKey, InvalidSignature

# Seconds an operator session lasts: long enough to look through the pages of one question,
# short enough that a cookie left in a browser is soon worth nothing.
SESSION_SECONDS = 15 * 60
SESSION_COOKIE = "icpurse_session"
# Nonces one key may have remembered at once: signed requests inside twice the time window
# (about 80 a second, kept up for ten minutes). Past it, that key's new requests are refused
# with 503 rather than a nonce forgotten that could then be replayed.
NONCES_PER_KEY = 50_000
_SESSION_VERSION = "v1"
_SESSION_TOKEN = re.compile(r"^v1\.[0-9a-f]{32}\.[0-9a-f]{64}$")
# The refusal of a request whose key is unknown or whose signature does not verify: one
# message for both, so that nobody learns which keys hold a role by trying them.
_NOT_VALID = "the request is not validly signed by a key that holds a role here"


class Denied(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Access:
    """`keys`: public key (33 bytes) -> the roles it holds. `session_secret`: the key of the
    session cookies' MACs, the same in every worker of one logger. `log_id`: the logger's log
    id, which every request signature must name."""

    def __init__(self, keys, session_secret, log_id, clock=time.time, max_skew=MAX_SKEW,
                 nonces_per_key=NONCES_PER_KEY):  # fmt: skip
        self.keys = {bytes(k): frozenset(r) for k, r in keys.items()}
        self.log_id = bytes(log_id)
        self._secret = bytes(session_secret)
        self.clock = clock
        self.max_skew = max_skew
        self.nonces_per_key = nonces_per_key
        # Per key: the nonces it used, and a heap of (expiry, nonce) to forget them in order.
        self._nonces = {}
        self._expiries = {}
        self.backend = PycaBackend()

    @classmethod
    def for_service(cls, service, operators=(), **options):
        """The Access of a logger: its anchors PkI and PkT sign as the issuer and the CA, and
        each key in `operators` as an operator. The session secret is derived from the logger's
        own key (a deterministic signature of a fixed text, hashed), so every worker derives
        the same one and nothing more is kept on disk; it is never sent anywhere."""
        keys = {}
        keys.setdefault(bytes(service.issuer_key), set()).add("issuer")
        keys.setdefault(bytes(service.ca_key), set()).add("ca")
        for key in operators:
            keys.setdefault(bytes(key), set()).add("operator")
        secret = hashlib.sha256(
            b"icpurse/session-secret/v1" + service.signer.sign(b"icpurse/session-secret/v1")
        ).digest()
        return cls(keys, secret, service.log_id, **options)

    # --- signed requests ----------------------------------------------------------------------

    def admit(self, header, needed):
        """What can be judged of a signed request before its body arrives: its header's form,
        its time, and that it names a key that holds a role here. Returns its Credentials for
        `verify`; Denied 401 otherwise. A request that does not name a role's key is thus
        refused at once, not after the logger waited for its body (the roles' public keys are
        no secret, so a request naming one is waited for, as a submission is)."""
        try:
            cred = parse(header)
        except BadCredentials as exc:
            raise Denied(401, str(exc)) from None
        now = int(self.clock())
        if abs(cred.time - now) > self.max_skew:
            raise Denied(
                401, "the request was signed at %d, more than %d s from the logger's clock (%d)"
                % (cred.time, self.max_skew, now)
            )  # fmt: skip
        if cred.key not in self.keys:
            raise Denied(401, _NOT_VALID)
        return cred

    def verify(self, cred, method, target, body, needed):
        """Check an admitted request's signature over what arrived, that its key holds one of
        the `needed` roles (403 only once the signature verified), and that its nonce is new;
        the key, or Denied."""
        try:
            self.backend.verify(
                cred.key,
                signed_message(method, target, cred.time, cred.nonce, body, self.log_id),
                cred.signature,
            )  # fmt: skip
        except (InvalidSignature, InvalidKey):
            raise Denied(401, _NOT_VALID) from None
        held = self.keys[cred.key]
        if not held & needed:
            raise Denied(
                403, "this needs %s; the request is signed by %s"
                % (role_names.describe(needed), role_names.describe(held))
            )  # fmt: skip
        self._remember(cred, int(self.clock()))
        return cred.key

    def check_signed(self, header, method, target, body, needed):
        """`admit` and `verify` at once: the key of a valid signed request holding one of the
        `needed` roles."""
        return self.verify(self.admit(header, needed), method, target, body, needed)

    def _remember(self, cred, now):
        nonces = self._nonces.setdefault(cred.key, set())
        expiries = self._expiries.setdefault(cred.key, [])
        # Forget what could no longer be replayed: a request is accepted until max_skew after
        # the time it was signed at, so its nonce is kept until then, and not a second less.
        while expiries and expiries[0][0] < now:
            nonces.discard(heapq.heappop(expiries)[1])
        if cred.nonce in nonces:
            raise Denied(401, "the request's nonce was used before: a replay")
        if len(nonces) >= self.nonces_per_key:
            raise Denied(503, "too many signed requests from this key at once; ask again in a"
                              " minute")  # fmt: skip
        nonces.add(cred.nonce)
        heapq.heappush(expiries, (cred.time + self.max_skew, cred.nonce))

    # --- operator sessions --------------------------------------------------------------------

    def new_session(self, key):
        """A session token for the operator key `key` and when it expires (epoch seconds)."""
        expires = int(self.clock()) + SESSION_SECONDS
        body = expires.to_bytes(8, "big") + fingerprint_of(key)
        return "%s.%s.%s" % (_SESSION_VERSION, body.hex(), self._mac(body).hex()), expires

    def check_session(self, token):
        """The fingerprint of the operator key of a valid, unexpired session token of a key
        that is still an operator's (sessions give the operator role only); Denied 401
        otherwise. Only the exact text the logger made is a token: one session cannot pass
        for several by changing the case of its hex."""
        if not _SESSION_TOKEN.match(token):
            raise Denied(401, "the session cookie is not one this logger makes")
        _, body_hex, mac_hex = token.split(".")
        body, mac = bytes.fromhex(body_hex), bytes.fromhex(mac_hex)
        if not hmac.compare_digest(mac, self._mac(body)):
            raise Denied(401, "the session cookie is not one this logger makes")
        if int.from_bytes(body[:8], "big") <= self.clock():
            raise Denied(401, "the session has expired: run `icpurse logger login` again")
        fingerprint = body[8:]
        for key, held in self.keys.items():
            if "operator" in held and fingerprint_of(key) == fingerprint:
                return fingerprint
        raise Denied(401, "the session's operator key is no longer an operator's")

    def _mac(self, body):
        return hmac.new(self._secret, b"icpurse/session/v1" + body, hashlib.sha256).digest()


def fingerprint_of(key):
    """A key's short name in session tokens and rate-limit buckets: SHA-256 of it, 8 bytes."""
    return hashlib.sha256(bytes(key)).digest()[:8]
