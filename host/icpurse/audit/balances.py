"""The audit of balances: every card's balance recomputed from the raw rows (records,
vouchers, journals, settlements and recoveries), as the logger's settlement rules define it,
and compared with the balance the logger claims."""

from typing import NamedTuple


class Recomputed(NamedTuple):
    """What the rows give: card balances (hex card id: balance, the issuer's redemption
    accounts left out), the in-doubt total, what the redemption accounts received and the
    set of those accounts."""

    balances: dict
    in_doubt: int
    redeemed: int
    accounts: set


def recompute(parsed, vouchers, payments, settlements, recoveries):
    """The Recomputed figures of the ledger; `parsed`: the audit's ParsedLeaf list."""
    balances, in_doubt = _balances(parsed, vouchers, payments, settlements, recoveries)
    # What the issuer's redemption accounts received is redeemed, not a card balance.
    accounts = {v["card_id"] for v in vouchers if v["reason"] == "redemption"}
    redeemed = sum(p.amount for p in parsed if p.recipient_id.hex() in accounts)
    for account in accounts:
        balances.pop(account, None)
    return Recomputed(balances, in_doubt, redeemed, accounts)


def check_balances(report, balances, cards):
    """Each recomputed balance against the logger's `cards`; flag an overspent card."""
    for card_id, balance in sorted(balances.items()):
        theirs = cards.get(card_id, {}).get("balance", 0)
        if theirs != balance:
            report.flag(
                "card %s: the records give a balance of %d, the logger says %d"
                % (card_id, balance, theirs)
            )
        if balance < 0:
            report.flag(
                "card %s has paid %d more than it was given: overspent" % (card_id, -balance)
            )


def _balances(parsed, vouchers, payments, settlements, recoveries):
    """Every card's balance recomputed from raw rows, and the in-doubt total."""
    cards = {}

    def card(card_id):
        return cards.setdefault(card_id, {"issued": 0, "delta": 0})

    for row in vouchers:
        c = card(row["card_id"])
        c["issued"] = max(c["issued"], row["issued"])
    logged = set()
    for leaf in parsed:
        logged.add(leaf.payment_key.hex())
        card(leaf.payer_id.hex())["delta"] -= leaf.amount
        card(leaf.recipient_id.hex())["delta"] += leaf.amount
    settled = {s["payment_key"]: s for s in settlements}
    in_doubt = 0
    for p in payments:
        if p["payment_key"] in logged:
            continue
        s = settled.get(p["payment_key"])
        if s is not None and s["kind"] == "reverted":
            continue
        card(p["payer_id"])["delta"] -= p["amount"]
        if s is None:
            in_doubt += p["amount"]
    for r in recoveries:
        card(r["card_id"])["delta"] -= r["amount"] - r["shortfall"]
    return {k: v["issued"] + v["delta"] for k, v in cards.items()}, in_doubt
