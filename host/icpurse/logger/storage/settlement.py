"""The queries of settlement: payers' journals, settlements, stamps, vouchers, recoveries and
the ledger totals (the rules that use them are in icpurse.logger.service).

`SettlementReads` needs `one` and `all` (a Storage or the sequencer's transaction);
`SettlementWrites` needs the transaction's `run`.
"""

from icpurse.logger.storage.rows import (
    CardTotals,
    JournalPayment,
    LoadParts,
    Recovery,
    Stamp,
    Unsettled,
    Voucher,
)
from purse import proto

# The size of a payment's identity, PkUA || ChallID || G1: its payment key without ctrA.
IDENTITY_SIZE = proto.PAYMENT_KEY_SIZE - proto.U32_SIZE
# Fixed SQL fragments (no input goes into them), hence the noqa: S608 where they are joined.
# A journalled payment p is logged when a leaf holds exactly it: its payer counter, under its
# challenge's identity (or under identity || H(record), another amount a payer signed for one
# challenge); a leaf of the same challenge with another counter credited another payment.
_LOGGED = (
    "EXISTS (SELECT 1 FROM leaves l WHERE l.payer_key = p.payer_key AND l.counter = p.counter"  # noqa: S608
    " AND substr(l.identity, 1, %d) = p.identity)" % IDENTITY_SIZE
)
_SETTLED = "EXISTS (SELECT 1 FROM settlements s WHERE s.payment_key = p.payment_key)"
_PAYMENTS = "payment_key, identity, payer_id, payer_key, counter, amount, record, seen, shown"
_VOUCHERS = "card_id, sequence, issued, public_key, record, reason, reference"
_RECOVERIES = "card_id, successor, amount, shortfall, statement, ltime, voucher_sequence"


def _made(cls, row):
    return None if row is None else cls._make(row)


class SettlementReads:
    # --- journals and settlements ---------------------------------------------------------------

    def journal_payment(self, payment_key):
        """The JournalPayment of `payment_key`, or None."""
        sql = "SELECT %s FROM payments WHERE payment_key = ?" % _PAYMENTS  # noqa: S608
        return _made(JournalPayment, self.one(sql, (payment_key,)))

    def leaf_with_counter(self, payer_key, counter, *identities):
        """The index of a leaf where the payer used `counter` under none of `identities`."""
        row = self.one(
            "SELECT leaf_index FROM leaves WHERE payer_key = ? AND counter = ?"  # noqa: S608
            + " AND identity <> ?" * len(identities),
            (payer_key, counter, *identities),
        )
        return None if row is None else row[0]

    def counter_journalled(self, payer_key, counter):
        """Whether a journalled payment used the payer counter."""
        row = self.one(
            "SELECT -1 FROM payments WHERE payer_key = ? AND counter = ?", (payer_key, counter)
        )
        return row is not None

    def payment_logged(self, payment_key):
        """Whether a leaf logs the journalled payment `payment_key`."""
        sql = "SELECT 1 FROM payments p WHERE p.payment_key = ? AND " + _LOGGED  # noqa: S608
        return bool(self.one(sql, (payment_key,)))

    def settlement_kind(self, payment_key):
        """How the payment was settled ("refunded", "reverted"), or None."""
        row = self.one("SELECT kind FROM settlements WHERE payment_key = ?", (payment_key,))
        return None if row is None else row[0]

    def unsettled(self, card_id=None):
        """Journalled payments that no leaf logs and no settlement settles, as Unsettled rows
        in the order the logger saw them; all of them, or those of `card_id`."""
        sql = (
            "SELECT p.payment_key, p.payer_id, p.amount, p.counter, p.seen, p.record"  # noqa: S608
            " FROM payments p WHERE NOT " + _LOGGED + " AND NOT " + _SETTLED
        )
        params = ()
        if card_id is not None:
            sql += " AND p.payer_id = ?"
            params = (card_id,)
        rows = self.all(sql + " ORDER BY p.seen, p.payment_key", params)
        return [Unsettled._make(r) for r in rows]

    def journalled_counters(self, card_id, above, upto):
        """How many distinct payer counters above `above` and up to `upto` the card's
        journalled payments hold."""
        row = self.one(
            "SELECT COUNT(DISTINCT counter) FROM payments WHERE payer_id = ? AND counter > ?"
            " AND counter <= ?",
            (card_id, above, upto),
        )
        return int(row[0])

    def latest_shown(self, card_id):
        """The newest stamp counter the card's journalled payments show, or None."""
        return self.one("SELECT MAX(shown) FROM payments WHERE payer_id = ?", (card_id,))[0]

    # --- stamps, vouchers, recoveries -----------------------------------------------------------

    def latest_stamp(self, card_id):
        return _made(Stamp, self.one("SELECT counter, ltime FROM stamps WHERE card_id = ?",
                                     (card_id,)))  # fmt: skip

    def known_card(self, card_id):
        """Whether a voucher names the card."""
        return self.one("SELECT 1 FROM vouchers WHERE card_id = ? LIMIT 1", (card_id,)) is not None

    def voucher(self, card_id, sequence):
        sql = "SELECT %s FROM vouchers WHERE card_id = ? AND sequence = ?" % _VOUCHERS  # noqa: S608
        return _made(Voucher, self.one(sql, (card_id, sequence)))

    def latest_voucher(self, card_id):
        sql = (
            "SELECT %s FROM vouchers WHERE card_id = ? ORDER BY sequence DESC LIMIT 1"  # noqa: S608
            % _VOUCHERS
        )
        return _made(Voucher, self.one(sql, (card_id,)))

    def recovery(self, card_id):
        """The Recovery that closed `card_id`, or None."""
        sql = "SELECT %s FROM recoveries WHERE card_id = ?" % _RECOVERIES  # noqa: S608
        return _made(Recovery, self.one(sql, (card_id,)))

    def predecessor(self, card_id):
        """The closed card whose balance was carried over to `card_id`, or None."""
        row = self.one("SELECT card_id FROM recoveries WHERE successor = ?", (card_id,))
        return None if row is None else row[0]

    # --- ledger totals --------------------------------------------------------------------------

    def barred_cards(self):
        """Cards revoked, or named by evidence of a clone or modified firmware."""
        rows = self.all(
            "SELECT card_id FROM revoked_cards UNION SELECT payer_id FROM evidence"
            " WHERE kind IN ('counter-reuse', 'identity-conflict')"
        )
        return {bytes(r[0]) for r in rows}

    def proven_modified(self, card_id):
        """Whether evidence proves the card cloned or its firmware modified."""
        row = self.one(
            "SELECT 1 FROM evidence WHERE kind IN ('counter-reuse', 'identity-conflict')"
            " AND payer_id = ?",
            (card_id,),
        )
        return row is not None

    def redemption_accounts(self):
        """The issuer's redemption accounts: what they receive is redeemed."""
        rows = self.all("SELECT DISTINCT card_id FROM vouchers WHERE reason = 'redemption'")
        return {bytes(r[0]) for r in rows}

    def card_totals(self, card_id, skipped=None):
        """The card's CardTotals. `skipped`, a (low, high) pair of payer counters, leaves its
        payments with counters above low and up to high out of `paid` and `unlogged`."""
        if skipped is None:
            bound, params = "", (card_id,)
        else:
            bound = " AND ({0}counter <= ? OR {0}counter > ?)"
            params = (card_id, *skipped)
        issued = self._sum("MAX(issued)", "vouchers WHERE card_id = ?", (card_id,))
        # What the log records credit and debit, from the running sums the appender keeps
        # (schema 6) rather than from every leaf of the card.
        flows = self.one("SELECT received, paid FROM card_flows WHERE card_id = ?", (card_id,))
        received, paid = (0, 0) if flows is None else (int(flows[0]), int(flows[1]))
        if skipped is not None:
            paid -= self._sum(
                "SUM(amount)", "leaves WHERE payer_id = ? AND counter > ? AND counter <= ?",
                params,
            )  # fmt: skip
        unlogged = self._sum(
            "SUM(p.amount)",
            "payments p WHERE p.payer_id = ?" + bound.format("p.") + " AND NOT " + _LOGGED  # noqa: S608
            + " AND NOT EXISTS (SELECT 1 FROM settlements s"
            " WHERE s.payment_key = p.payment_key AND s.kind = 'reverted')",
            params,
        )  # fmt: skip
        carried = self._sum("SUM(amount - shortfall)", "recoveries WHERE card_id = ?", (card_id,))
        return CardTotals(issued, received, paid, unlogged, carried)

    def every_card_totals(self):
        """{card_id: CardTotals} of every card a voucher names, as `card_totals` gives each
        (without `skipped`), in one statement a part rather than several a card: the ledger
        reads them all, and its cost must not grow by a round of queries per card."""
        issued = self._by_card("SELECT card_id, MAX(issued) FROM vouchers GROUP BY card_id")
        flows = {
            bytes(r[0]): (int(r[1]), int(r[2]))
            for r in self.all("SELECT card_id, received, paid FROM card_flows")
        }
        unlogged = self._by_card(
            "SELECT p.payer_id, SUM(p.amount) FROM payments p WHERE NOT " + _LOGGED  # noqa: S608
            + " AND NOT EXISTS (SELECT 1 FROM settlements s WHERE s.payment_key ="
            " p.payment_key AND s.kind = 'reverted') GROUP BY p.payer_id"
        )  # fmt: skip
        carried = self._by_card(
            "SELECT card_id, SUM(amount - shortfall) FROM recoveries GROUP BY card_id"
        )
        return {
            card: CardTotals(
                issued[card], *flows.get(card, (0, 0)), unlogged.get(card, 0), carried.get(card, 0)
            )
            for card in issued
        }

    def every_load_parts(self):
        """{card_id: LoadParts} of every card a voucher names: what the issuer loaded onto it
        for value is its issued total less refunds and recovered balances loaded."""
        issued = self._by_card("SELECT card_id, MAX(issued) FROM vouchers GROUP BY card_id")
        refunds = self._by_card(
            "SELECT s.payer_id, SUM(s.amount) FROM settlements s JOIN vouchers v"
            " ON v.card_id = s.payer_id AND v.sequence = s.voucher_sequence"
            " WHERE s.kind = 'refunded' GROUP BY s.payer_id"
        )
        recovered = self._by_card(
            "SELECT successor, SUM(amount) FROM recoveries WHERE voucher_sequence IS NOT NULL"
            " GROUP BY successor"
        )
        return {
            card: LoadParts(issued[card], refunds.get(card, 0), recovered.get(card, 0))
            for card in issued
        }

    def _by_card(self, sql):
        """{card_id: int} of a (card, sum) query (fixed fragments of this module)."""
        return {bytes(r[0]): int(r[1]) for r in self.all(sql)}

    def in_doubt_total(self):
        return self._sum("SUM(p.amount)", "payments p WHERE NOT " + _LOGGED + " AND NOT "
                         + _SETTLED)  # fmt: skip

    def unloaded_recoveries_total(self):
        return self._sum("SUM(amount)", "recoveries WHERE voucher_sequence IS NULL")

    def shortfall_total(self):
        return self._sum("SUM(shortfall)", "recoveries")

    def _sum(self, aggregate, source, params=()):
        """COALESCE(aggregate, 0) over `source` (fixed fragments of this module) as an int."""
        sql = "SELECT COALESCE(%s, 0) FROM %s" % (aggregate, source)  # noqa: S608
        return int(self.one(sql, params)[0])


class SettlementWrites:
    def add_payment(self, payment):
        """Journal a JournalPayment row."""
        self.run(
            "INSERT INTO payments (%s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)" % _PAYMENTS,  # noqa: S608
            payment,
        )

    def add_settlement(self, payment_key, payer_id, amount, kind, voucher_sequence, ltime):
        self.run(
            "INSERT INTO settlements (payment_key, payer_id, amount, kind, voucher_sequence,"
            " ltime) VALUES (?, ?, ?, ?, ?, ?)",
            (payment_key, payer_id, amount, kind, voucher_sequence, ltime),
        )

    def add_stamp(self, card_id, counter, ltime, record):
        self.run(
            "INSERT INTO stamps (card_id, counter, ltime, record) VALUES (?, ?, ?, ?)",
            (card_id, counter, ltime, record),
        )

    def replace_stamp(self, card_id, counter, ltime, record):
        self.run(
            "UPDATE stamps SET counter = ?, ltime = ?, record = ? WHERE card_id = ?",
            (counter, ltime, record, card_id),
        )

    def add_voucher(self, voucher):
        """Record a Voucher row."""
        self.run(
            "INSERT INTO vouchers (%s) VALUES (?, ?, ?, ?, ?, ?, ?)" % _VOUCHERS,  # noqa: S608
            voucher,
        )

    def mark_recovery_loaded(self, card_id, voucher_sequence):
        self.run(
            "UPDATE recoveries SET voucher_sequence = ? WHERE card_id = ?",
            (voucher_sequence, card_id),
        )

    def add_recovery(self, recovery):
        """Record a Recovery row."""
        self.run(
            "INSERT INTO recoveries (%s) VALUES (?, ?, ?, ?, ?, ?, ?)" % _RECOVERIES,  # noqa: S608
            recovery,
        )
