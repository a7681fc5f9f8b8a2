"""The audit: recompute the whole ledger from the logger's raw records and the issuer's own
ledger, and list every anomaly (docs/PROTOCOL.md, "Audit").

Nothing the logger computed is taken on trust. Each leaf is parsed again from its record bytes
and its receipt checked with PkL; the Merkle tree is rebuilt from the records and every signed
checkpoint must match it, and each must be consistent with the one before (proofs fetched from
the logger, verified here). Balances are recomputed from the records, vouchers, journals,
settlements and recoveries, and compared with the logger's; the issuer's vouchers must be
exactly those the logger recorded. Then the ledger identity must hold:

    loads - redeemed = card balances + in doubt + recoveries not yet loaded - shortfall

(shortfall: what an overspent, recovered card's recipients hold without backing — a loss).
"""

from icpurse.logger import merkle
from icpurse.logger.client.answers import LoggerError, columns_checked
from icpurse.logger.merkle import MemoryNodes, ProofError
from purse.errors import CryptoError, RecordError
from purse.records import fields as f
from purse.records.checkpoint import Checkpoint
from purse.records.log import LogRecord
from purse.records.logger import Receipt

# The columns the audit reads from each of the logger's tables, and what each must hold
# (answers.columns_checked): a row without one, or with another type, is the logger's fault and
# fails the audit with a message, not with a KeyError or TypeError halfway through.
COLUMNS = {
    "leaves": (("leaf_index", int), ("record", "hex"), ("receipt", "hex"), ("amount", int),
               ("payer_id", "hex"), ("recipient_id", "hex")),
    "checkpoints": (("checkpoint", "hex"), ("tree_size", int)),
    "vouchers": (("card_id", "hex"), ("sequence", int), ("issued", int), ("reason", str),
                 ("record", "hex")),
    "payments": (("payment_key", "hex"), ("payer_id", "hex"), ("amount", int)),
    "settlements": (("payment_key", "hex"), ("kind", str), ("payer_id", "hex"),
                    ("voucher_sequence", (int, type(None))), ("amount", int)),
    "recoveries": (("card_id", "hex"), ("successor", "hex"), ("amount", int),
                   ("shortfall", int), ("voucher_sequence", (int, type(None)))),
}  # fmt: skip


def checked(rows, table):
    """`rows` of the logger's `table`, each holding the COLUMNS the audit reads."""
    return columns_checked(rows, table, COLUMNS[table])


class AuditReport:
    def __init__(self):
        self.anomalies = []
        self.figures = {}

    def flag(self, text):
        self.anomalies.append(text)

    @property
    def passed(self):
        return not self.anomalies


def _hex(value):
    return None if value is None else bytes.fromhex(value)


def _check_leaves(report, client, leaves, backend, logger_key):
    """Parse every leaf again; returns [(payment key, payer id, recipient id, amount, hash)]."""
    parsed = []
    seen = {}
    for expected, row in enumerate(leaves):
        index = row["leaf_index"]
        if index != expected:
            report.flag("leaf %d is missing: the log has a hole (a deleted record)" % expected)
            break
        data = bytes.fromhex(row["record"])
        try:
            record = LogRecord.decode(data)
            receipt = Receipt.decode(bytes.fromhex(row["receipt"]))
            receipt.verify(backend, logger_key)
        except (RecordError, CryptoError) as exc:
            report.flag("leaf %d: %s" % (index, exc))
            continue
        if not receipt.matches(record) or receipt.leaf_index != index:
            report.flag("leaf %d: its receipt is for another record or index" % index)
        payment = record.payment
        identity = payment.certificate.public_key + payment.chall_id + payment.g1
        # One credit per challenge and amount: the logger credits a challenge twice only when
        # its payer signed two amounts for it (docs/PROTOCOL.md section 7.3).
        if (identity, payment.x) in seen:
            report.flag(
                "leaves %d and %d credit the same payment: a double credit"
                % (seen[(identity, payment.x)], index)
            )
        seen[(identity, payment.x)] = index
        payer = payment.certificate.card_id
        if (
            row["amount"] != payment.x
            or bytes.fromhex(row["payer_id"]) != payer
            or bytes.fromhex(row["recipient_id"]) != record.recipient_id
        ):
            report.flag(
                "leaf %d: the logger counts %d from %s to %s, the record says %d from %s to %s"
                % (index, row["amount"], row["payer_id"], row["recipient_id"], payment.x,
                   payer.hex(), record.recipient_id.hex())
            )  # fmt: skip
        key = identity + f.u32(payment.counter)
        parsed.append((key, payer, record.recipient_id, payment.x, merkle.leaf_hash(data)))
    return parsed


def _check_tree(report, client, parsed, checkpoints, backend, logger_key):
    nodes = MemoryNodes()
    for level, index, value in merkle.new_nodes(0, [p[4] for p in parsed], nodes.get):
        nodes.put(level, index, value)
    size = len(parsed)
    previous = None
    for row in checkpoints:
        try:
            cp = Checkpoint.decode(bytes.fromhex(row["checkpoint"]))
            cp.verify(backend, logger_key)
        except (RecordError, CryptoError) as exc:
            report.flag("checkpoint at size %d: %s" % (row["tree_size"], exc))
            continue
        if cp.tree_size > size:
            report.flag(
                "checkpoint at size %d is beyond the %d records the log holds: records were"
                " removed" % (cp.tree_size, size)
            )
        elif merkle.root(cp.tree_size, nodes.get) != cp.root:
            report.flag(
                "checkpoint at size %d does not match the records: the log was altered"
                % cp.tree_size
            )
        if previous is not None and previous.tree_size <= cp.tree_size:
            try:
                client.verify_consistent(previous, cp)
            except (ProofError, LoggerError) as exc:
                report.flag(
                    "checkpoints at sizes %d and %d are not consistent: %s"
                    % (previous.tree_size, cp.tree_size, exc)
                )
        previous = cp
    report.figures["checkpoints"] = len(checkpoints)
    report.figures["records"] = size


def _balances(parsed, vouchers, payments, settlements, recoveries):
    """Every card's balance recomputed from raw rows, as the logger's settlement module
    defines it."""
    cards = {}

    def card(card_id):
        return cards.setdefault(card_id, {"issued": 0, "delta": 0})

    for row in vouchers:
        c = card(row["card_id"])
        c["issued"] = max(c["issued"], row["issued"])
    logged = set()
    for key, payer, recipient, amount, _ in parsed:
        logged.add(key.hex())
        card(payer.hex())["delta"] -= amount
        card(recipient.hex())["delta"] += amount
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


def run(client, issuer, backend, logger_key):
    """Audit the logger behind `client` (a LoggerClient) against `issuer` (an Issuer, or None
    to skip the issuer's side). Returns an AuditReport."""
    report = AuditReport()
    leaves = checked(client.leaves(), "leaves")
    parsed = _check_leaves(report, client, leaves, backend, logger_key)
    checkpoints = checked(client.ledger_table("checkpoints"), "checkpoints")
    _check_tree(report, client, parsed, checkpoints, backend, logger_key)
    vouchers = checked(client.ledger_table("vouchers"), "vouchers")
    payments = checked(client.ledger_table("payments"), "payments")
    settlements = checked(client.ledger_table("settlements"), "settlements")
    recoveries = checked(client.ledger_table("recoveries"), "recoveries")
    balances, in_doubt = _balances(parsed, vouchers, payments, settlements, recoveries)
    # What the issuer's redemption accounts received is redeemed, not a card balance.
    accounts = {v["card_id"] for v in vouchers if v["reason"] == "redemption"}
    redeemed = sum(p[3] for p in parsed if p[2].hex() in accounts)
    for account in accounts:
        balances.pop(account, None)
    claimed = client.ledger()
    cards = claimed["cards"]
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
    logged = {p[0].hex() for p in parsed}
    refunds = {}
    for s in settlements:
        if s["payment_key"] in logged:
            report.flag(
                "payment %s... is both credited by a log and %s: a double credit"
                % (s["payment_key"][:16], s["kind"])
            )
        if s["kind"] == "refunded":
            refunds[(s["payer_id"], s["voucher_sequence"])] = s["amount"]
    recovered_in = {}
    for r in recoveries:
        if r["voucher_sequence"] is not None:
            recovered_in[(r["successor"], r["voucher_sequence"])] = r["amount"]
        if r["shortfall"]:
            report.flag(
                "card %s was recovered %d short: its overspending is a loss"
                % (r["card_id"], r["shortfall"])
            )
    # Loads: each voucher's raise of the issued total, less refunds and recovered balances.
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
    unloaded = sum(r["amount"] for r in recoveries if r["voucher_sequence"] is None)
    shortfall = sum(r["shortfall"] for r in recoveries)
    total = sum(balances.values())
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
    if issuer is not None:
        _check_issuer(report, issuer, vouchers, loads)
    for item in client.alerts()["evidence"]:
        report.flag(
            "evidence at the logger: %s by card %s (leaf %d)"
            % (item["kind"], item["payer_id"], item["conflicts_with"])
        )
    report.figures.update(
        {"loads": loads, "redeemed": redeemed, "balances": total, "in_doubt": in_doubt,
         "recoveries_unloaded": unloaded, "shortfall": shortfall, "cards": len(balances)}
    )  # fmt: skip
    return report


def _check_issuer(report, issuer, vouchers, loads):
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
