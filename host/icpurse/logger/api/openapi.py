"""The OpenAPI 3.1 description of the logger's HTTP API, served at /openapi.json.

Its constraints are the validators' own (lengths, patterns, list sizes, ranges), taken from the
same constants, so that a request the description admits is one the service parses: what it
still refuses then is what only it can judge (a signature, the tree's size, stored state), and
those answers are listed per operation. schemathesis checks the two against each other
(tests/host/test_schemathesis.py).
"""

from icpurse.logger.access import roles
from icpurse.logger.access.policy import SESSION_COOKIE
from icpurse.logger.api.requests import MAX_RECORD_HEX
from icpurse.logger.service.journals import MAX_JOURNAL_UPLOAD
from icpurse.logger.service.logger_service import MAX_BATCH_RECORDS
from purse import proto

# The largest whole number a query parameter takes (requests.query_int).
_MAX_QUERY = 2**63 - 1
_HEX = {"type": "string", "pattern": "^([0-9a-fA-F]{2})*$", "maxLength": MAX_RECORD_HEX}
_CARD_ID = {"type": "string", "pattern": "^[0-9a-fA-F]{%d}$" % (2 * proto.CARD_ID_SIZE)}
_NONCE = {"type": "string", "pattern": "^[0-9a-fA-F]{%d}$" % (2 * proto.RANDOM_SIZE)}


def _hex_list(limit):
    return {"type": "array", "items": _HEX, "minItems": 1, "maxItems": limit}


_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _body(schema):
    """A request body, which every POST of the API needs (requests.read_json)."""
    return {"required": True, **_json(schema)}


def _answer(description, schema=None):
    answer = {"description": description}
    if schema is not None:
        answer.update(_json(schema))
    return answer


_UNAVAILABLE = _answer(
    "not able to answer now (the commit queue is full, or the logger's database failed, with"
    " its reason); retry after the Retry-After header",
    _ERROR,
)
_ERRORS = {
    "400": _answer("malformed input", _ERROR),
    "413": _answer("body too large", _ERROR),
    "503": _UNAVAILABLE,
}
_RESULT = {
    "type": "object",
    "properties": {
        "status": {"type": "integer"},
        "receipt": _HEX,
        "leaf_index": {"type": "integer"},
        "tree_size": {"type": "integer"},
        "error": {"type": "string"},
        "conflicts_with": {"type": "integer"},
        "evidence": {
            "type": "string",
            "description": "a refusal's evidence against the payer: counter-reuse (a clone) or"
            " identity-conflict",
        },
    },
    "required": ["status"],
}
_PROOF = {
    "type": "object",
    "properties": {"proof": {"type": "array", "items": _HEX}},
    "required": ["proof"],
}


def _query(name, minimum=0):
    return {
        "name": name,
        "in": "query",
        "required": True,
        "schema": {"type": "integer", "minimum": minimum, "maximum": _MAX_QUERY},
    }


OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "icpurse third-party logger",
        "version": "1",
        "description": "Stores card-to-card transfer logs durably in an append-only Merkle "
        "tree (RFC 9162 hashing), answers with signed receipts, proves inclusion and "
        "consistency, and reconstructs card balances. Binary values are hex strings; "
        "records are the BER-TLV encodings of docs/PROTOCOL.md. Checkpoints, proofs, status "
        "and the revocation list are public; records, journals and stamps are judged by the "
        "cards' signatures they carry; the issuer, the CA and operators sign their requests "
        "with their own keys (securitySchemes).",
    },
    "paths": {
        "/v1/status": {
            "get": {
                "summary": "Ready-ticket for a card's nonce (embodiment 2)",
                "parameters": [
                    {"name": "nonce", "in": "query", "required": True, "schema": _NONCE}
                ],
                "responses": {
                    "200": _answer("the logger can take a log now", {"type": "object"}),
                    **_ERRORS,
                },
            }
        },
        "/v1/record": {
            "post": {
                "summary": "Submit one transfer log record; answered after a durable commit",
                "requestBody": _body(
                    {"type": "object", "properties": {"record": _HEX}, "required": ["record"]}
                ),
                "responses": {
                    "200": _answer("stored (or stored before): the receipt", _RESULT),
                    "403": _answer("the payer card is revoked", _RESULT),
                    "409": _answer("another record for the payment, or a reused counter", _RESULT),
                    "422": _answer("the record does not verify, or an unknown card", _RESULT),
                    **_ERRORS,
                },
            }
        },
        "/v1/records": {
            "post": {
                "summary": "Submit a batch of records; one result per record",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {"records": _hex_list(MAX_BATCH_RECORDS)},
                        "required": ["records"],
                    }
                ),
                "responses": {
                    "200": _answer(
                        "per-record results",
                        {
                            "type": "object",
                            "properties": {"results": {"type": "array", "items": _RESULT}},
                        },
                    ),
                    **_ERRORS,
                },
            }
        },
        "/v1/records/{index}": {
            "get": {
                "summary": "A stored record and its receipt, by leaf index",
                "parameters": [
                    {
                        "name": "index",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": _MAX_QUERY},
                    }
                ],
                "responses": {"200": _answer("the leaf"), "404": _answer("no such leaf", _ERROR)},
            }
        },
        "/v1/checkpoint": {
            "get": {
                "summary": "Signed checkpoint of the current tree: size and root",
                "responses": {"200": _answer("the checkpoint")},
            }
        },
        "/v1/proofs/inclusion": {
            "get": {
                "summary": "Inclusion proof of a leaf in the tree of a given size",
                "parameters": [_query("index"), _query("size", 1)],
                "responses": {"200": _answer("the audit path", _PROOF), **_ERRORS},
            }
        },
        "/v1/proofs/consistency": {
            "get": {
                "summary": "Consistency proof between two tree sizes",
                "parameters": [_query("old", 1), _query("new", 1)],
                "responses": {"200": _answer("the proof", _PROOF), **_ERRORS},
            }
        },
        "/v1/cards/{card_id}": {
            "get": {
                "summary": "A card's reconstructed balance and its history, 500 entries a page",
                "parameters": [
                    {"name": "card_id", "in": "path", "required": True, "schema": _CARD_ID},
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "description": "the `next` cursor of the page before (a leaf index)",
                        "schema": {"type": "integer", "minimum": 0, "maximum": _MAX_QUERY},
                    },
                ],
                "responses": {
                    "200": _answer(
                        "issued + received - paid, a page of the history, and `next`: the"
                        " cursor of the next page or null"
                    ),
                    "404": _answer("unknown card", _ERROR),
                    **_ERRORS,
                },
            }
        },
        "/v1/alerts": {
            "get": {
                "summary": "Overspending payers and evidence of clones and conflicts",
                "responses": {"200": _answer("the alerts")},
            }
        },
        "/v1/revocation": {
            "get": {
                "summary": "The newest CA-signed revocation list",
                "responses": {"200": _answer("the list"), "404": _answer("none yet", _ERROR)},
            },
            "post": {
                "summary": "Serve a newer CA-signed revocation list",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {"revocation": _HEX},
                        "required": ["revocation"],
                    }
                ),
                "responses": {
                    "200": _answer("stored, or the very list already served"),
                    "409": _answer("not newer", _ERROR),
                    "422": _answer("not signed by the CA", _ERROR),
                    **_ERRORS,
                },
            },
        },
        "/v1/vouchers": {
            "post": {
                "summary": "Issuer feed: a voucher the issuer signed (a load, a refund of an "
                "in-doubt payment, or a recovered balance)",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "voucher": _HEX,
                            "reason": {"enum": ["load", "refund", "recovery"]},
                            "reference": _HEX,
                        },
                        "required": ["voucher"],
                    }
                ),
                "responses": {
                    "200": _answer("recorded"),
                    "404": _answer("the refunded payment or recovered card is unknown", _ERROR),
                    "409": _answer(
                        "another voucher with that sequence, or already settled", _ERROR
                    ),
                    "422": _answer("not signed by the issuer, or the wrong amount", _ERROR),
                    "425": _answer("the settlement window is still open (Retry-After)", _ERROR),
                    **_ERRORS,
                },
            }
        },
        "/v1/cards/{card_id}/voucher": {
            "get": {
                "summary": "The newest voucher the issuer recorded for a card",
                "parameters": [
                    {"name": "card_id", "in": "path", "required": True, "schema": _CARD_ID}
                ],
                "responses": {
                    "200": _answer("the voucher"),
                    "404": _answer("none", _ERROR),
                    **_ERRORS,
                },
            }
        },
        "/v1/payments": {
            "post": {
                "summary": "A payer's journal: signed payments its card debited",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {"payments": _hex_list(MAX_JOURNAL_UPLOAD)},
                        "required": ["payments"],
                    }
                ),
                "responses": {
                    "200": _answer("one result per payment: its state or refusal"),
                    **_ERRORS,
                },
            }
        },
        "/v1/stamps": {
            "post": {
                "summary": "A freshness stamp for a card that the logger holds every payment of,"
                " up to its payer counter",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "card_id": _CARD_ID,
                            "counter": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
                        },
                        "required": ["card_id", "counter"],
                    }
                ),
                "responses": {
                    "200": _answer("the signed stamp"),
                    "403": _answer("the card is revoked", _ERROR),
                    "404": _answer("a card the logger never saw loaded", _ERROR),
                    "409": _answer(
                        "the card's last stamp covers the counter already, or the logger does not"
                        " hold the card's journal that far",
                        _ERROR,
                    ),
                    **_ERRORS,
                },
            }
        },
        "/v1/in-doubt": {
            "get": {
                "summary": "Journalled payments that no log credits and that are not settled",
                "parameters": [
                    {"name": "card", "in": "query", "required": False, "schema": _CARD_ID}
                ],
                "responses": {"200": _answer("the payments, with when each is due"), **_ERRORS},
            }
        },
        "/v1/recoveries": {
            "post": {
                "summary": "Close a revoked card's ledger and sign its balance statement",
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {"card_id": _CARD_ID, "successor": _CARD_ID},
                        "required": ["card_id", "successor"],
                    }
                ),
                "responses": {
                    "200": _answer("the signed balance statement"),
                    "404": _answer("unknown card", _ERROR),
                    "409": _answer("not revoked, or recovered onto another card", _ERROR),
                    "425": _answer("the settlement window is still open (Retry-After)", _ERROR),
                    **_ERRORS,
                },
            }
        },
        "/v1/ledger": {
            "get": {
                "summary": "Ledger totals and every card's reconstructed balance",
                "responses": {"200": _answer("the totals")},
            }
        },
        "/v1/ledger/{table}": {
            "get": {
                "summary": "A ledger table, 1000 rows a page in key order, for the audit",
                "parameters": [
                    {
                        "name": "table",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "enum": [
                                "vouchers",
                                "payments",
                                "settlements",
                                "recoveries",
                                "checkpoints",
                            ]
                        },
                    },
                    {
                        "name": "after",
                        "in": "query",
                        "required": False,
                        "description": "the `next` cursor of the page before",
                        "schema": {"type": "string", "maxLength": 100},
                    },
                ],
                "responses": {
                    "200": _answer("the rows, and `next`: the cursor of the next page or null"),
                    "404": _answer("no such table", _ERROR),
                    **_ERRORS,
                },
            }
        },
        "/v1/leaves": {
            "get": {
                "summary": "Stored leaves from `start`, 1000 a page, for the audit",
                "parameters": [
                    {
                        "name": "start",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0, "maximum": _MAX_QUERY},
                    }
                ],
                "responses": {"200": _answer("the leaves"), **_ERRORS},
            }
        },
    },
}

OPENAPI["paths"]["/v1/session"] = {
    "post": {
        "summary": "An operator session for a browser: a token its reads accept as the"
        " icpurse_session cookie for 15 minutes, sealed to the operator's key",
        "responses": {
            "200": _answer(
                "the session token sealed to the signing operator key (ECIES on P-256:"
                " ephemeral point, then AES-256-GCM under HKDF-SHA256 of the shared secret)",
                {
                    "type": "object",
                    "properties": {
                        "sealed": _HEX,
                        "cookie": {"type": "string"},
                        "expires": {"type": "integer"},
                        "expires_at": {"type": "string"},
                    },
                    "required": ["sealed", "cookie", "expires", "expires_at"],
                },
            )
        },
    }
}
OPENAPI["components"] = {
    "securitySchemes": {
        "signedRequest": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`ICPurse-Signature key=<PkX hex>, time=<unix seconds>, nonce=<32 "
            "hex>, signature=<128 hex>`: a P-256 signature by the issuer's, the CA's or an "
            "operator's key over the method, target, time, nonce and body hash "
            "(docs/OPERATIONS.md, Roles and keys)",
        },
        "operatorSession": {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "an operator session from POST /v1/session; reads only",
        },
    }
}


def _roles_and_limits():
    """Each operation's security and answers from the roles it needs (access/roles.py)."""
    for path, operations in OPENAPI["paths"].items():
        for method, operation in operations.items():
            key = (method.upper(), _ROUTE_PATHS.get(path, path))
            needed = roles.ROUTES[key]
            if needed:
                security = [{"signedRequest": []}]
                if method == "get" and "operator" in needed:
                    security.append({"operatorSession": []})
                operation["security"] = security
                operation["description"] = "Signed with %s." % roles.describe(needed)
                operation["responses"]["401"] = _answer("not signed, or not validly", _ERROR)
                operation["responses"]["403"] = _answer("signed by a key without the role", _ERROR)
            if key in roles.EXPENSIVE:
                operation["responses"]["429"] = _answer(
                    "too many expensive reads from this client; retry after Retry-After", _ERROR
                )
            # Every route reads or writes the database, so every route answers 503 when it has
            # failed.
            operation["responses"].setdefault("503", _UNAVAILABLE)


# OpenAPI's path templates where Starlette's route paths name a converter.
_ROUTE_PATHS = {"/v1/records/{index}": "/v1/records/{index:int}"}
_roles_and_limits()
