"""The logger's side of authentication: whose keys hold which roles, checking a signed
request (time, nonce, signature) and operator sessions for a browser.

One Access object lives in each worker process. Its nonce memory is the worker's own, so a
request replayed to another worker inside the time window is not recognised as a replay there;
every request that changes money is idempotent (an identical voucher, recovery or revocation
list is answered as it was the first time), so such a replay changes nothing, and with TLS
nobody sees a request to replay it. docs/OPERATIONS.md says so too.
"""

import hashlib
import hmac
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
# Nonces remembered at once; past this many signed requests inside twice the time window, new
# ones are refused with 503 rather than forgetting a nonce that could then be replayed.
MAX_NONCES = 200_000
_SESSION_VERSION = "v1"


class Denied(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Access:
    """`keys`: public key (33 bytes) -> the roles it holds. `session_secret`: the key of the
    session cookies' MACs, the same in every worker of one logger."""

    def __init__(self, keys, session_secret, clock=time.time, max_skew=MAX_SKEW,
                 max_nonces=MAX_NONCES):  # fmt: skip
        self.keys = {bytes(k): frozenset(r) for k, r in keys.items()}
        self._secret = bytes(session_secret)
        self.clock = clock
        self.max_skew = max_skew
        self.max_nonces = max_nonces
        self._nonces = {}
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
        return cls(keys, secret, **options)

    # --- signed requests ----------------------------------------------------------------------

    def admit(self, header, needed):
        """What can be judged of a signed request before its body arrives: its header's form,
        its time and whether its key holds one of the `needed` roles. Returns its Credentials
        for `verify`; Denied (401, or 403 for a key without the role) otherwise. A client
        without a role's key is thus refused at once, not after the logger waited for its
        body."""
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
        held = self.keys.get(cred.key)
        if held is None:
            raise Denied(401, "the key %s… holds no role at this logger" % cred.key.hex()[:16])
        if not held & needed:
            raise Denied(
                403, "this needs %s; the request is signed by %s"
                % (role_names.describe(needed), role_names.describe(held))
            )  # fmt: skip
        return cred

    def verify(self, cred, method, target, body):
        """Check an admitted request's signature over what arrived, and that its nonce is
        new; Denied 401 otherwise."""
        try:
            self.backend.verify(
                cred.key, signed_message(method, target, cred.time, cred.nonce, body),
                cred.signature,
            )  # fmt: skip
        except (InvalidSignature, InvalidKey):
            raise Denied(401, "the request's signature does not verify") from None
        self._remember(cred.nonce, int(self.clock()))
        return cred.key

    def check_signed(self, header, method, target, body, needed):
        """`admit` and `verify` at once: the key of a valid signed request holding one of the
        `needed` roles."""
        return self.verify(self.admit(header, needed), method, target, body)

    def _remember(self, nonce, now):
        if nonce in self._nonces:
            raise Denied(401, "the request's nonce was used before: a replay")
        if len(self._nonces) >= self.max_nonces:
            self._nonces = {n: t for n, t in self._nonces.items() if t > now}
            if len(self._nonces) >= self.max_nonces:
                raise Denied(503, "too many signed requests at once; ask again in a minute")
        # Kept until a request signed with it would be refused for its time anyway.
        self._nonces[nonce] = now + 2 * self.max_skew

    # --- operator sessions --------------------------------------------------------------------

    def new_session(self, key):
        """A session token for the operator key `key` and when it expires (epoch seconds)."""
        expires = int(self.clock()) + SESSION_SECONDS
        body = expires.to_bytes(8, "big") + hashlib.sha256(bytes(key)).digest()[:8]
        return "%s.%s.%s" % (_SESSION_VERSION, body.hex(), self._mac(body).hex()), expires

    def check_session(self, token):
        """The roles of a valid, unexpired session token of a key that is still an operator's
        (sessions give the operator role only); Denied 401 otherwise."""
        parts = token.split(".") if len(token) <= 128 else ()
        if len(parts) != 3 or parts[0] != _SESSION_VERSION:
            raise Denied(401, "the session cookie is not one this logger makes")
        try:
            body, mac = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
        except ValueError:
            raise Denied(401, "the session cookie is not one this logger makes") from None
        if len(body) != 16 or not hmac.compare_digest(mac, self._mac(body)):
            raise Denied(401, "the session cookie is not one this logger makes")
        if int.from_bytes(body[:8], "big") <= self.clock():
            raise Denied(401, "the session has expired: run `icpurse logger login` again")
        fingerprint = body[8:]
        for key, held in self.keys.items():
            if "operator" in held and hashlib.sha256(key).digest()[:8] == fingerprint:
                return role_names.OPERATOR
        raise Denied(401, "the session's operator key is no longer an operator's")

    def _mac(self, body):
        return hmac.new(self._secret, b"icpurse/session/v1" + body, hashlib.sha256).digest()
