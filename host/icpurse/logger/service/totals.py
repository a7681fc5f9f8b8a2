"""The ledger totals of the logger's settlement: a card's reconstructed balance, the cards not
in good standing, a journalled payment's state and the ledger identity the audit checks
(docs/PROTOCOL.md sections 7.1 and 7.2).

The functions take `db`, the storage or the sequencer's transaction: both have the named
queries of icpurse.logger.storage. LoggerService inherits `TotalsViews`.
"""

from icpurse.logger import REFUND_DELAY_MIN
from purse import proto


class TotalsViews:
    def refund_delay(self):
        """Seconds of L-time after the logger first saw a payment before it may be refunded:
        the window, and never less than REFUND_DELAY_MIN, so that no recipient can still
        credit it (its challenge lives proto.CHALLENGE_TTL_MS at most)."""
        return max(self.window, REFUND_DELAY_MIN)

    def barred(self):
        """The cards that are not in good standing: revoked, or proven by evidence to have
        reused a payer counter (a clone) or signed two amounts for one challenge (modified
        firmware). They are never refunded, and the overspend alert counts every payment of
        theirs."""
        return self.storage.barred_cards()

    def card_sums(self, card_id):
        """The reconstructed balance and its parts."""
        return sums(self.storage, bytes(card_id))

    def judged_sums(self, card_id, barred):
        """The card's sums as the overspend alert judges them (`barred`: self.barred())."""
        return judged_sums(self.storage, bytes(card_id), barred)

    def ledger(self):
        """Totals of the ledger identity (docs/PROTOCOL.md): loads - redeemed = Σ card balances
        + in-doubt + recoveries not yet loaded, with every card's reconstructed balance. Read
        from one snapshot beside the sequencer, so a reader of the ledger never holds up
        appends."""
        return self.storage.snapshot(_ledger)


def _ledger(tx):
    accounts = tx.redemption_accounts()
    # Every card's totals in a few statements, not a round of them per card (sums() gives
    # the same for one card).
    totals = {card: _balance(t) for card, t in tx.every_card_totals().items()}
    parts = tx.every_load_parts()
    balances = {c.hex(): b for c, b in totals.items() if c not in accounts}
    redeemed = sum(totals[c]["received"] for c in accounts if c in totals)
    loads = sum(p.issued - p.refunds - p.recovered for p in parts.values())
    return {
        "loads": int(loads),
        "redeemed": int(redeemed),
        "accounts": sorted(c.hex() for c in accounts),
        "balances": sum(b["balance"] for b in balances.values()),
        "in_doubt": tx.in_doubt_total(),
        "recoveries_unloaded": tx.unloaded_recoveries_total(),
        "shortfall": tx.shortfall_total(),
        "tree_size": int(tx.tree_size()),
        "cards": balances,
    }


def judged_sums(db, card_id, barred):
    """A card's sums as the overspend alert judges them: every payment of a card in `barred`,
    and for any other the payments up to the last stamp the card took and beyond the next
    JOURNAL_MAX. The stamp the card took is the newest one its journalled payments show, not
    the newest L signed: anyone may ask L for a stamp, but a card takes one only with its
    outbox receipted (wallet.credentials.take_stamp)."""
    if card_id in barred:
        return sums(db, card_id)
    shown = db.latest_shown(card_id)
    return sums(db, card_id, 0 if shown is None else int(shown))


def payment_state(db, key):
    """A journalled payment's state: "logged", "in-doubt", or how it was settled."""
    if db.payment_logged(key):
        return "logged"
    kind = db.settlement_kind(key)
    return "in-doubt" if kind is None else kind


def sums(db, card_id, stamped=None):
    """A card's reconstructed balance: issued + received - paid, where paid counts logged
    payments, in-doubt and refunded journal payments (the card debited them), and what a
    recovery carried to the successor (less the shortfall of an overspent card, so that a
    closed card always ends at 0); reverted payments count for nothing. With `stamped`, the
    payer counter of the card's last stamp, paid leaves out the payments the card may make
    after it (the next JOURNAL_MAX counters), which may spend credits not logged yet."""
    skipped = None if stamped is None else (stamped, stamped + proto.JOURNAL_MAX)
    return _balance(db.card_totals(card_id, skipped))


def _balance(t):
    """The sums (see `sums`) of a CardTotals."""
    return {
        "issued": t.issued,
        "received": t.received,
        "paid": t.paid,
        "unlogged_paid": t.unlogged,
        "carried_over": t.carried,
        "balance": t.issued + t.received - t.paid - t.unlogged - t.carried,
    }
