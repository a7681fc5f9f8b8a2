"""The audit of settlement: no payment both credited by a log and settled, every refund and
recovery voucher backed by what it settles, the loads the vouchers give, and the evidence the
logger holds."""


def check_settlements(report, parsed, settlements):
    """Flag a payment both logged and settled; returns the refunds, {(payer id, voucher
    sequence): amount}."""
    logged = {p.payment_key.hex() for p in parsed}
    refunds = {}
    for s in settlements:
        if s["payment_key"] in logged:
            report.flag(
                "payment %s... is both credited by a log and %s: a double credit"
                % (s["payment_key"][:16], s["kind"])
            )
        if s["kind"] == "refunded":
            refunds[(s["payer_id"], s["voucher_sequence"])] = s["amount"]
    return refunds


def check_recoveries(report, recoveries):
    """Flag a recovery short of its card's balance (a loss); returns the recovered balances
    loaded, {(successor, voucher sequence): amount}."""
    recovered_in = {}
    for r in recoveries:
        if r["voucher_sequence"] is not None:
            recovered_in[(r["successor"], r["voucher_sequence"])] = r["amount"]
        if r["shortfall"]:
            report.flag(
                "card %s was recovered %d short: its overspending is a loss"
                % (r["card_id"], r["shortfall"])
            )
    return recovered_in


def check_vouchers(report, vouchers, refunds, recovered_in):
    """The loads: each voucher's raise of the issued total, less refunds and recovered
    balances; flags a voucher whose reason its raise does not bear out."""
    loads = 0
    last = {}
    for row in sorted(vouchers, key=lambda v: (v["card_id"], v["sequence"])):
        raised = row["issued"] - last.get(row["card_id"], 0)
        last[row["card_id"]] = row["issued"]
        key = (row["card_id"], row["sequence"])
        if row["reason"] == "refund" and refunds.get(key) != raised:
            report.flag("voucher %s/%d refunds no settled payment" % key)
        elif row["reason"] == "recovery" and recovered_in.get(key) != raised:
            report.flag("voucher %s/%d loads no recovered balance" % key)
        elif row["reason"] == "load":
            loads += raised
        elif row["reason"] == "redemption" and raised != 0:
            report.flag("voucher %s/%d gives the redemption account value" % key)
    return loads


def check_evidence(report, alerts):
    """Every piece of evidence the logger holds is an anomaly."""
    for item in alerts["evidence"]:
        report.flag(
            "evidence at the logger: %s by card %s (leaf %d)"
            % (item["kind"], item["payer_id"], item["conflicts_with"])
        )
