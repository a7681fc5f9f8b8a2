"""The audit of the issuer's side: its ledger and the logger's feed must hold the same
vouchers, and its loads must be those the logger's records give."""


def check_issuer(report, issuer, vouchers, loads):
    """The issuer's ledger and the logger's feed must hold the same vouchers."""
    theirs = {(v["card_id"], v["sequence"]): v for v in vouchers}
    ours = set()
    for card_id, sequence, _, _, reason, _, record in issuer.vouchers():
        key = (bytes(card_id).hex(), sequence)
        ours.add(key)
        row = theirs.get(key)
        if row is None:
            report.flag("voucher %s/%d signed by the issuer is unknown to the logger" % key)
        elif bytes.fromhex(row["record"]) != bytes(record) or row["reason"] != reason:
            report.flag("voucher %s/%d differs between the issuer and the logger" % key)
    for key in sorted(set(theirs) - ours):
        report.flag("voucher %s/%d at the logger was not signed by this issuer's ledger" % key)
    if issuer.totals()["load"] != loads:
        report.flag(
            "the issuer loaded %d, the logger's records give %d" % (issuer.totals()["load"], loads)
        )
