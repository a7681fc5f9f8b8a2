"""The logger's roles and which of them each route of the API needs.

- public: what a transparency log publishes (checkpoints, proofs, status, the revocation list)
  and its own description. Nobody signs.
- card submissions: records, payers' journals, stamps and a card's newest voucher, which a
  terminal moves during a sync. Nobody signs: a record counts only if the payer's and the
  recipient's cards signed it under certificates of the CA, a journalled payment only if its
  payer card signed it, and a stamp only states what those signed payments already show. The
  money rules (docs/PROTOCOL.md section 7) judge them, not the sender.
- issuer: vouchers (loads, refunds, recoveries, redemptions) and recoveries; PkI.
- ca: revocation lists; PkT.
- operator: the ledger, its tables, alerts, leaves, card histories, in-doubt payments and
  operator sessions; an operator key given to `logger serve --operator`. The issuer may read
  what the operator reads: it audits the logger and reconciles in-doubt payments.

A route missing from ROUTES needs the operator, so a new route is private until it is placed.
"""

PUBLIC = frozenset()
CARD = frozenset()
ISSUER = frozenset({"issuer"})
CA = frozenset({"ca"})
OPERATOR = frozenset({"operator"})
READER = frozenset({"operator", "issuer"})

# (method, route path as Starlette names it) -> the roles of which one must sign.
ROUTES = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/v1/status"): PUBLIC,
    ("GET", "/v1/checkpoint"): PUBLIC,
    ("GET", "/v1/proofs/inclusion"): PUBLIC,
    ("GET", "/v1/proofs/consistency"): PUBLIC,
    ("GET", "/v1/revocation"): PUBLIC,
    ("POST", "/v1/record"): CARD,
    ("POST", "/v1/records"): CARD,
    ("POST", "/v1/payments"): CARD,
    ("POST", "/v1/stamps"): CARD,
    ("GET", "/v1/cards/{card_id}/voucher"): CARD,
    ("POST", "/v1/vouchers"): ISSUER,
    ("POST", "/v1/recoveries"): ISSUER,
    ("POST", "/v1/revocation"): CA,
    ("GET", "/v1/records/{index:int}"): READER,
    ("GET", "/v1/leaves"): READER,
    ("GET", "/v1/cards/{card_id}"): READER,
    ("GET", "/v1/alerts"): READER,
    ("GET", "/v1/in-doubt"): READER,
    ("GET", "/v1/ledger"): READER,
    ("GET", "/v1/ledger/{table}"): READER,
    ("POST", "/v1/session"): OPERATOR,
}

# Reads that cost the logger a scan or a page of up to a thousand rows: limited per client
# (api/guard.py). A single leaf, a proof (a few index lookups) and the checkpoint are not.
EXPENSIVE = frozenset(
    {
        ("GET", "/v1/leaves"),
        ("GET", "/v1/cards/{card_id}"),
        ("GET", "/v1/alerts"),
        ("GET", "/v1/in-doubt"),
        ("GET", "/v1/ledger"),
        ("GET", "/v1/ledger/{table}"),
    }
)


def needed(method, path):
    """The roles a request to route `path` with `method` needs (empty: none)."""
    if method == "HEAD":
        method = "GET"
    return ROUTES.get((method, path), OPERATOR)


def describe(roles):
    """The roles as the refusal of an unsigned request names them."""
    names = {"issuer": "the issuer's key", "ca": "the CA's key", "operator": "an operator key"}
    return " or ".join(names[r] for r in sorted(roles, key=("operator", "issuer", "ca").index))
