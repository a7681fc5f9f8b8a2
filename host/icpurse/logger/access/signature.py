"""Signed requests, which the client signs and the logger checks.

An issuer, a CA or an operator signs each request with its own P-256 key. The signature covers
the log id of the logger it is meant for, the method, the request target (path and query as
sent), the time, a fresh nonce and the SHA-256 of the body, after a domain prefix that no
record's signed bytes begin with, so a request signature can never be passed off as a voucher,
a certificate or a revocation list signed by the same key. The log id (public: every checkpoint
names it) binds a request to one logger: an issuer's recovery or voucher sent to one logger
cannot be replayed to another that trusts the same issuer key, whose nonces it never saw. The
header:

    Authorization: ICPurse-Signature key=<PkX hex>, time=<unix seconds>, nonce=<32 hex>,
                   signature=<128 hex>

The logger accepts it within MAX_SKEW seconds of its own clock and once per nonce
(access/policy.py). Nothing secret travels: a captured header is worth one replay inside the
time window at most, which the logger refuses, and TLS keeps it from being captured at all.
"""

import hashlib
import os
import re
from typing import NamedTuple

SCHEME = "ICPurse-Signature"
DOMAIN = b"icpurse/request-signature/v2\n"
NONCE_SIZE = 16
# Seconds a signed request's time may lie from the logger's clock, either way: the clocks of
# an operator's laptop and a server may differ by a minute or two, never by more than this.
MAX_SKEW = 300
# The longest Authorization header the logger reads: the four fields and their names.
MAX_HEADER = 400

_HEADER = re.compile(
    r"^%s key=([0-9a-f]{66}), time=([0-9]{1,12}), nonce=([0-9a-f]{%d}), signature=([0-9a-f]{128})$"
    % (SCHEME, 2 * NONCE_SIZE)
)


class BadCredentials(Exception):
    """An Authorization header that is not a well-formed request signature."""


class Credentials(NamedTuple):
    key: bytes
    time: int
    nonce: bytes
    signature: bytes


def message(method, target, time, nonce, body, log_id):
    """The bytes a request signature covers. `target` is the path with its query string,
    exactly as it goes on the request line (bytes or text); `log_id` the 8-byte log id of the
    logger the request is for."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    return b"\n".join(
        (
            DOMAIN + bytes(log_id).hex().encode("ascii"),
            method.upper().encode("ascii"),
            target,
            str(int(time)).encode("ascii"),
            bytes(nonce).hex().encode("ascii"),
            hashlib.sha256(bytes(body)).hexdigest().encode("ascii"),
        )
    )


def authorization(signer, method, target, body, time, log_id, nonce=None):
    """The Authorization header value of a request `signer` (a purse Signer) sends to the
    logger of `log_id`."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else bytes(nonce)
    signature = signer.sign(message(method, target, time, nonce, body, log_id))
    return "%s key=%s, time=%d, nonce=%s, signature=%s" % (
        SCHEME,
        bytes(signer.public_key).hex(),
        int(time),
        nonce.hex(),
        bytes(signature).hex(),
    )


def parse(header):
    """The Credentials of an Authorization header; BadCredentials if it is not one."""
    if len(header) > MAX_HEADER:
        raise BadCredentials("the Authorization header is longer than %d characters" % MAX_HEADER)
    match = _HEADER.match(header)
    if match is None:
        raise BadCredentials(
            "the Authorization header is not `%s key=..., time=..., nonce=..., signature=...`"
            " (lowercase hex)" % SCHEME
        )
    key, time, nonce, signature = match.groups()
    return Credentials(
        bytes.fromhex(key), int(time), bytes.fromhex(nonce), bytes.fromhex(signature)
    )
