"""The audit: recompute the whole ledger from the logger's raw records and the issuer's own
ledger, and list every anomaly (docs/PROTOCOL.md section 7.6).

Nothing the logger computed is taken on trust. Each leaf is parsed again from its record bytes
and its receipt checked with PkL; the Merkle tree is rebuilt from the records and every signed
checkpoint must match it, and each must be consistent with the one before (proofs fetched from
the logger, verified here). Balances are recomputed from the records, vouchers, journals,
settlements and recoveries, and compared with the logger's; the issuer's vouchers must be
exactly those the logger recorded. Then the ledger identity must hold:

    loads - redeemed = card balances + in doubt + recoveries not yet loaded - shortfall

(shortfall: what an overspent, recovered card's recipients hold without backing — a loss).

One module per check: tree.py (leaves, receipts, checkpoints), balances.py (card balances),
settlement.py (settlements, recoveries, vouchers and evidence), totals.py (the identity and
the logger's totals) and issuer.py (the issuer's vouchers); report.py holds the report.
"""

from icpurse.audit.balances import check_balances, recompute
from icpurse.audit.issuer import check_issuer
from icpurse.audit.report import COLUMNS, AuditReport, checked
from icpurse.audit.settlement import (
    check_evidence,
    check_recoveries,
    check_settlements,
    check_vouchers,
)
from icpurse.audit.totals import check_identity
from icpurse.audit.tree import check_leaves, check_tree

__all__ = ["COLUMNS", "AuditReport", "checked", "run"]


def run(client, issuer, backend, logger_key):
    """Audit the logger behind `client` (a LoggerClient) against `issuer` (an Issuer, or None
    to skip the issuer's side). Returns an AuditReport."""
    report = AuditReport()
    parsed = check_leaves(report, checked(client.leaves(), "leaves"), backend, logger_key)
    checkpoints = checked(client.ledger_table("checkpoints"), "checkpoints")
    check_tree(report, client, parsed, checkpoints, backend, logger_key)
    vouchers, payments, settlements, recoveries = (
        checked(client.ledger_table(table), table)
        for table in ("vouchers", "payments", "settlements", "recoveries")
    )
    recomputed = recompute(parsed, vouchers, payments, settlements, recoveries)
    claimed = client.ledger()
    check_balances(report, recomputed.balances, claimed["cards"])
    refunds = check_settlements(report, parsed, settlements)
    recovered_in = check_recoveries(report, recoveries)
    loads = check_vouchers(report, vouchers, refunds, recovered_in)
    figures = check_identity(report, recomputed, loads, recoveries, claimed)
    if issuer is not None:
        check_issuer(report, issuer, vouchers, loads)
    check_evidence(report, client.alerts())
    report.figures.update(figures)
    return report
