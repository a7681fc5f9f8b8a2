"""The audit of the ledger totals: the ledger identity must hold on the recomputed figures,
and the logger's own totals must be those figures.

    loads - redeemed = card balances + in doubt + recoveries not yet loaded - shortfall
"""


def check_identity(report, recomputed, loads, recoveries, claimed):
    """Check the identity and the logger's `claimed` totals; returns the figures."""
    unloaded = sum(r["amount"] for r in recoveries if r["voucher_sequence"] is None)
    shortfall = sum(r["shortfall"] for r in recoveries)
    total = sum(recomputed.balances.values())
    in_doubt, redeemed = recomputed.in_doubt, recomputed.redeemed
    if loads - redeemed != total + in_doubt + unloaded - shortfall:
        report.flag(
            "the ledger identity fails: loads %d - redeemed %d != balances %d + in doubt %d"
            " + unloaded recoveries %d - shortfall %d"
            % (loads, redeemed, total, in_doubt, unloaded, shortfall)
        )
    for name, value in (
        ("loads", loads), ("in_doubt", in_doubt), ("balances", total), ("redeemed", redeemed)
    ):  # fmt: skip
        if claimed.get(name) != value:
            report.flag("the logger's total %s is %s, the records give %d"
                        % (name, claimed.get(name), value))  # fmt: skip
    return {"loads": loads, "redeemed": redeemed, "balances": total, "in_doubt": in_doubt,
            "recoveries_unloaded": unloaded, "shortfall": shortfall,
            "cards": len(recomputed.balances)}  # fmt: skip
