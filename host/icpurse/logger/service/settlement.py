"""Settlement at the logger: payers' journals, in-doubt payments, refunds, recoveries and the
ledger totals the audit checks (docs/PROTOCOL.md, "Settlement and recovery").

- A payer's terminal uploads the card's journal (`add_payments`): every payment the card signed
  and debited. One whose log record never arrives is *in doubt*: debited from the payer,
  credited to nobody the logger knows.
- After the settlement window (counted in L-time from when the logger first saw it) an in-doubt
  payment may be refunded: the issuer signs the payer a voucher raised by the amount, naming the
  payment, and the logger records the voucher and settles the payment in one transaction. A log
  record that arrives later is kept as evidence and not credited (service.LoggerService).
- A damaged or lost card is recovered (`recover`): once the CA has revoked it and the window
  has passed since the logger learned of it, the logger closes its ledger — in-doubt payments of
  that card revert to it — and signs a balance statement naming the successor card; the issuer
  then loads the successor with a voucher for that balance, which the logger checks likewise.

Every write that depends on what the log holds runs in the sequencer's transaction
(`storage.append`), so a refund and a late log record of the same payment cannot both win.
LoggerService inherits these methods; they need `storage`, `signer`, `backend`, `ca_key`,
`issuer_key`, `window` and `ltime()` from it.
"""

from icpurse.authority.issuer import REASONS
from icpurse.logger.service.ledger import SubmitError
from purse import proto
from purse.errors import CryptoError, RecordError
from purse.records import fields as f
from purse.records.credentials import Voucher
from purse.records.stamp import Stamp
from purse.records.statement import BalanceStatement
from purse.records.transfer import Payment

# Reasons that name no reference ("redemption" marks the issuer's redemption account, w = 0).
UNREFERENCED = ("load", "redemption")
MAX_JOURNAL_UPLOAD = 64


class WindowOpen(SubmitError):
    """The settlement window has not passed yet; `retry_after` seconds of L-time remain."""

    def __init__(self, reason, retry_after):
        super().__init__(425, reason)
        self.retry_after = max(1, int(retry_after))


def payment_identity(payment):
    """The bytes that name the challenge a payment answers, and so its credit, at the logger:
    PkUA || ChallID || G1. At most one credit per identity (but see the appender for a payer
    that signed two amounts)."""
    return payment.certificate.public_key + payment.chall_id + payment.g1


def payment_key(payment):
    """The bytes that name one signed payment in journals, settlements and refunds: its
    identity and its payer counter. A payer may sign one challenge twice (a relay replays it,
    docs/PROTOCOL.md section 7.1): each signature debited the card, at most one is credited,
    and the other is refunded."""
    return payment_identity(payment) + f.u32(payment.counter)


# The size of a payment's identity, PkUA (33) || ChallID (8) || G1 (32).
IDENTITY_SIZE = 73
# Fixed SQL fragments (no input goes into them), hence the noqa: S608 where they are joined.
# A journalled payment p is logged when a leaf holds exactly it: its payer counter, under its
# challenge's identity (or under identity || H(record), another amount a payer signed for one
# challenge); a leaf of the same challenge with another counter credited another payment.
_LOGGED = (
    "EXISTS (SELECT 1 FROM leaves l WHERE l.payer_key = p.payer_key AND l.counter = p.counter"  # noqa: S608
    " AND substr(l.identity, 1, %d) = p.identity)" % IDENTITY_SIZE
)
_SETTLED = "EXISTS (SELECT 1 FROM settlements s WHERE s.payment_key = p.payment_key)"


class SettlementViews:
    def refund_delay(self):
        """Seconds of L-time after the logger first saw a payment before it may be refunded:
        the window, and never less than proto.REFUND_DELAY_MIN, so that no recipient can still
        credit it (its challenge lives proto.CHALLENGE_TTL_MS at most)."""
        return max(self.window, proto.REFUND_DELAY_MIN)

    # --- journals -------------------------------------------------------------------------------

    def _journal_payment(self, data):
        try:
            payment = Payment.decode(data)
        except RecordError as exc:
            raise SubmitError(400, "malformed payment: %s" % exc) from None
        try:
            payment.verify_chain(self.backend, self.ca_key, self.issuer_key)
        except CryptoError as exc:
            raise SubmitError(422, "payment does not verify: %s" % exc) from None
        return payment

    def add_payments(self, payments):
        """Record the signed payments of a payer's journal; one result per payment: its
        status ("logged", "in-doubt", "refunded", "reverted") or the refusal."""
        results = [None] * len(payments)
        checked = []
        for pos, data in enumerate(payments):
            try:
                checked.append((pos, bytes(data), self._journal_payment(data)))
            except SubmitError as exc:
                results[pos] = {"status": exc.status, "error": exc.reason}
        if checked:
            stored = self.storage.append(lambda tx: self._store_payments(tx, checked))
            for (pos, _, _), result in zip(checked, stored, strict=True):
                results[pos] = result
        return results

    def _store_payments(self, tx, checked):
        ltime = self.ltime()
        out = []
        for _, data, payment in checked:
            identity = payment_identity(payment)
            key = payment_key(payment)
            payer_id = payment.certificate.card_id
            if tx.one("SELECT 1 FROM payments WHERE payment_key = ?", (key,)) is None:
                clash = tx.one(
                    "SELECT leaf_index FROM leaves WHERE payer_key = ? AND counter = ?"
                    " AND identity <> ? AND identity <> ?",
                    (payment.payer_key, payment.counter, identity, key),
                )
                if clash is None:
                    clash = tx.one(
                        "SELECT -1 FROM payments WHERE payer_key = ? AND counter = ?",
                        (payment.payer_key, payment.counter),
                    )
                if clash is not None:
                    tx.run(
                        "INSERT INTO evidence (kind, identity, payer_id, record, conflicts_with,"
                        " ltime) VALUES (?, ?, ?, ?, ?, ?)",
                        ("counter-reuse", identity, payer_id, data, clash[0], ltime),
                    )
                    out.append(
                        {"status": 409,
                         "error": "payer counter %d already used: clone" % payment.counter}
                    )  # fmt: skip
                    continue
                # `shown`: the counter of the stamp the payment shows, which the card took.
                tx.run(
                    "INSERT INTO payments (payment_key, identity, payer_id, payer_key, counter,"
                    " amount, record, seen, shown) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, identity, payer_id, payment.payer_key, payment.counter, payment.x,
                     data, ltime, payment.stamp.counter),
                )  # fmt: skip
            out.append({"status": 200, "state": _payment_state(tx, key)})
        return out

    def in_doubt(self, card_id=None):
        """Journalled payments not logged and not settled, with the L-time from which each may
        be refunded."""
        sql = (
            "SELECT p.payment_key, p.payer_id, p.amount, p.counter, p.seen, p.record"  # noqa: S608
            " FROM payments p WHERE NOT " + _LOGGED + " AND NOT " + _SETTLED
        )
        params = ()
        if card_id is not None:
            sql += " AND p.payer_id = ?"
            params = (bytes(card_id),)
        now = self.ltime()
        delay = self.refund_delay()
        barred = self.barred()
        rows = self.storage.all(sql + " ORDER BY p.seen, p.payment_key", params)
        # A payer the overspend alert names is not refunded either (see _check_refund).
        barred |= {
            payer
            for payer in {bytes(r[1]) for r in rows} - barred
            if _judged_sums(self.storage, payer, barred)["balance"] < 0
        }
        return [
            {
                "payment_key": bytes(r[0]).hex(),
                "payer_id": bytes(r[1]).hex(),
                "amount": int(r[2]),
                "payer_counter": int(r[3]),
                "seen": int(r[4]),
                "refundable_from": int(r[4]) + delay,
                # A revoked payer's payments settle at its recovery, never by refund, and a
                # payer proven cloned or modified, or overspent, is refunded nothing.
                "due": now >= int(r[4]) + delay and bytes(r[1]) not in barred,
                "payment": bytes(r[5]).hex(),
            }
            for r in rows
        ]

    # --- stamps ---------------------------------------------------------------------------------

    def stamp(self, card_id, counter):
        """The card's freshness stamp for payer counter `counter`: L holds every payment the
        card signed since its last stamp up to `counter` (its journal, uploaded first). Never
        for a revoked or closed card: its stamp then grows stale, and recipients refuse it a
        window later even where the revocation list has not reached."""
        card_id = bytes(card_id)
        return self.storage.append(lambda tx: self._stamp(tx, card_id, int(counter)))

    def _stamp(self, tx, card_id, counter):
        if tx.one("SELECT 1 FROM vouchers WHERE card_id = ? LIMIT 1", (card_id,)) is None:
            raise SubmitError(404, "unknown card %s" % card_id.hex())
        if _revoked(tx, card_id):
            raise SubmitError(403, "card %s is revoked: it gets no stamp" % card_id.hex())
        last = tx.one("SELECT counter, ltime FROM stamps WHERE card_id = ?", (card_id,))
        since = 0 if last is None else int(last[0])
        if counter < since:
            raise SubmitError(409, "the card's last stamp already covers payer counter %d" % since)
        held = tx.one(
            "SELECT COUNT(DISTINCT counter) FROM payments WHERE payer_id = ? AND counter > ?"
            " AND counter <= ?",
            (card_id, since, counter),
        )[0]
        if int(held) != counter - since:
            raise SubmitError(
                409, "the logger holds %d of the card's payments %d to %d: upload its journal"
                " first" % (int(held), since + 1, counter)
            )  # fmt: skip
        ltime = max(self.ltime(), 0 if last is None else int(last[1]))
        encoded = Stamp(card_id, counter, ltime).sign(self.signer).encode()
        if last is None:
            tx.run(
                "INSERT INTO stamps (card_id, counter, ltime, record) VALUES (?, ?, ?, ?)",
                (card_id, counter, ltime, encoded),
            )
        else:
            tx.run(
                "UPDATE stamps SET counter = ?, ltime = ?, record = ? WHERE card_id = ?",
                (counter, ltime, encoded, card_id),
            )
        return encoded

    # --- the issuer feed, with refunds and recoveries -----------------------------------------

    def add_voucher(self, data, reason="load", reference=None):
        """The issuer feed: every voucher the issuer signs. A "refund" voucher names the
        in-doubt payment it refunds (`reference` = its identity), a "recovery" voucher the card
        whose balance it carries over (`reference` = the old IdU); both must raise the card's
        issued total by exactly that amount."""
        if reason not in REASONS:
            raise SubmitError(400, "reason must be one of %s" % ", ".join(REASONS))
        if (reason in UNREFERENCED) != (reference is None):
            raise SubmitError(400, "a refund or recovery voucher names its reference, others none")
        voucher = self._checked(Voucher, data, self.issuer_key, "voucher")
        return self.storage.append(lambda tx: self._store_voucher(tx, voucher, reason, reference))

    def _store_voucher(self, tx, voucher, reason, reference):
        card_id = f.card_id(voucher.public_key)
        row = tx.one(
            "SELECT record, reason FROM vouchers WHERE card_id = ? AND sequence = ?",
            (card_id, voucher.sequence),
        )
        if row is not None:
            if bytes(row[0]) != voucher.encode() or row[1] != reason:
                raise SubmitError(409, "another voucher with this sequence is recorded")
            return card_id
        prior = tx.one(
            "SELECT issued, sequence FROM vouchers WHERE card_id = ? ORDER BY sequence DESC"
            " LIMIT 1",
            (card_id,),
        )
        raised = voucher.issued - (int(prior[0]) if prior else 0)
        if prior is not None and voucher.sequence <= int(prior[1]):
            raise SubmitError(409, "a newer voucher for this card is already recorded")
        ltime = self.ltime()
        if reason == "refund":
            self._check_refund(tx, voucher, bytes(reference), raised, ltime)
        elif reason == "recovery":
            self._check_recovery(tx, voucher, card_id, bytes(reference), raised)
        elif reason == "redemption" and (prior is not None or voucher.issued != 0):
            raise SubmitError(422, "a redemption account is a new card with w = 0")
        tx.run(
            "INSERT INTO vouchers (card_id, sequence, issued, public_key, record, reason,"
            " reference) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (card_id, voucher.sequence, voucher.issued, voucher.public_key, voucher.encode(),
             reason, None if reference is None else bytes(reference)),
        )  # fmt: skip
        return card_id

    def _check_refund(self, tx, voucher, key, raised, ltime):
        row = tx.one(
            "SELECT payer_key, payer_id, amount, seen FROM payments WHERE payment_key = ?",
            (key,),
        )
        if row is None:
            raise SubmitError(404, "no journalled payment with this payment key")
        payer_key, payer_id, amount, seen = bytes(row[0]), bytes(row[1]), int(row[2]), int(row[3])
        if payer_key != voucher.public_key:
            raise SubmitError(422, "the refund voucher is for another card than the payer")
        if _revoked(tx, payer_id):
            # A revoked card's payments settle at its recovery (reverted into its balance
            # statement) or not at all: a card that keeps spending after its revocation must
            # never be refunded for it (docs/PROTOCOL.md section 7.1).
            raise SubmitError(409, "the payer card %s is revoked: it is never refunded"
                              % payer_id.hex())  # fmt: skip
        if _proven_modified(tx, payer_id):
            raise SubmitError(409, "the payer card %s reused a payer counter or signed two"
                              " amounts for one challenge: it is never refunded"
                              % payer_id.hex())  # fmt: skip
        if _judged_sums(tx, payer_id, set())["balance"] < 0:
            # The overspend alert names it: a payer that spent more than it was given (its
            # modified firmware signed payments it did not debit) gets no refund on top.
            raise SubmitError(409, "the payer card %s has overspent: it is not refunded"
                              % payer_id.hex())  # fmt: skip
        state = _payment_state(tx, key)
        if state != "in-doubt":
            raise SubmitError(409, "the payment is %s, not in doubt" % state)
        due = seen + self.refund_delay()
        if ltime < due:
            raise WindowOpen(
                "the settlement window of this payment closes at L-time %d" % due, due - ltime
            )
        if raised != amount:
            raise SubmitError(
                422, "the voucher raises the issued total by %d, the payment was %d"
                % (raised, amount)
            )  # fmt: skip
        tx.run(
            "INSERT INTO settlements (payment_key, payer_id, amount, kind, voucher_sequence,"
            " ltime) VALUES (?, ?, ?, ?, ?, ?)",
            (key, payer_id, amount, "refunded", voucher.sequence, ltime),
        )

    def _check_recovery(self, tx, voucher, card_id, old_id, raised):
        row = tx.one(
            "SELECT successor, amount, voucher_sequence FROM recoveries WHERE card_id = ?",
            (old_id,),
        )
        if row is None:
            raise SubmitError(404, "card %s has not been recovered" % old_id.hex())
        if bytes(row[0]) != card_id:
            raise SubmitError(422, "card %s was recovered onto another card" % old_id.hex())
        if row[2] is not None:
            raise SubmitError(409, "the balance of card %s is already loaded" % old_id.hex())
        if raised != int(row[1]):
            raise SubmitError(
                422, "the voucher raises the issued total by %d, the statement says %d"
                % (raised, int(row[1]))
            )  # fmt: skip
        tx.run(
            "UPDATE recoveries SET voucher_sequence = ? WHERE card_id = ?",
            (voucher.sequence, old_id),
        )

    # --- recovery -----------------------------------------------------------------------------

    def recover(self, card_id, successor):
        """Close the ledger of revoked card `card_id` and sign its balance statement naming
        `successor`. Asking again returns the same statement."""
        card_id, successor = bytes(card_id), bytes(successor)
        if card_id == successor:
            raise SubmitError(400, "a card cannot be recovered onto itself")
        return self.storage.append(lambda tx: self._recover(tx, card_id, successor))

    def _recover(self, tx, card_id, successor):
        done = tx.one("SELECT successor, statement FROM recoveries WHERE card_id = ?", (card_id,))
        if done is not None:
            if bytes(done[0]) != successor:
                raise SubmitError(409, "card %s was recovered onto another card" % card_id.hex())
            return bytes(done[1])
        key = tx.one("SELECT public_key FROM vouchers WHERE card_id = ? LIMIT 1", (card_id,))
        if key is None:
            raise SubmitError(404, "unknown card %s" % card_id.hex())
        if tx.one("SELECT 1 FROM recoveries WHERE card_id = ?", (successor,)) is not None:
            raise SubmitError(409, "the successor card %s is itself closed" % successor.hex())
        revoked = tx.one("SELECT ltime FROM revoked_cards WHERE card_id = ?", (card_id,))
        if revoked is None:
            raise SubmitError(
                409, "card %s is not revoked: the CA revokes it first" % card_id.hex()
            )
        ltime = self.ltime()
        closes = int(revoked[0]) + self.window
        if ltime < closes:
            raise WindowOpen(
                "the settlement window of card %s closes at L-time %d" % (card_id.hex(), closes),
                closes - ltime,
            )
        # In-doubt payments of the old card revert to it (their recipients had the whole window
        # to log them); those still inside their own window keep the recovery waiting.
        pending = tx.all(
            "SELECT p.payment_key, p.amount, p.seen FROM payments p WHERE p.payer_id = ?"  # noqa: S608
            " AND NOT " + _LOGGED + " AND NOT " + _SETTLED,
            (card_id,),
        )
        latest = max([int(r[2]) + self.refund_delay() for r in pending] or [0])
        if ltime < latest:
            raise WindowOpen(
                "an in-doubt payment of card %s settles at L-time %d" % (card_id.hex(), latest),
                latest - ltime,
            )
        for payment, amount, _ in pending:
            tx.run(
                "INSERT INTO settlements (payment_key, payer_id, amount, kind, voucher_sequence,"
                " ltime) VALUES (?, ?, ?, ?, NULL, ?)",
                (bytes(payment), card_id, int(amount), "reverted", ltime),
            )
        sums = _sums(tx, card_id)
        balance = max(0, sums["balance"])
        tree_size = tx.one("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM leaves")[0]
        statement = BalanceStatement(
            card_id, bytes(key[0]), successor, min(balance, proto.MAX_AMOUNT), tree_size, ltime
        ).sign(self.signer)
        encoded = statement.encode()
        tx.run(
            "INSERT INTO recoveries (card_id, successor, amount, shortfall, statement, ltime,"
            " voucher_sequence) VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (card_id, successor, statement.balance, balance - sums["balance"], encoded, ltime),
        )
        return encoded

    # --- ledger totals --------------------------------------------------------------------------

    def barred(self):
        """The cards that are not in good standing: revoked, or proven by evidence to have
        reused a payer counter (a clone) or signed two amounts for one challenge (modified
        firmware). They are never refunded, and the overspend alert counts every payment of
        theirs."""
        rows = self.storage.all(
            "SELECT card_id FROM revoked_cards UNION SELECT payer_id FROM evidence"
            " WHERE kind IN ('counter-reuse', 'identity-conflict')"
        )
        return {bytes(r[0]) for r in rows}

    def card_sums(self, card_id):
        """The reconstructed balance and its parts (storage reads have the same `one` as a
        transaction)."""
        return _sums(self.storage, bytes(card_id))

    def judged_sums(self, card_id, barred):
        """The card's sums as the overspend alert judges them (`barred`: self.barred())."""
        return _judged_sums(self.storage, bytes(card_id), barred)

    def ledger(self):
        """Totals of the ledger identity (docs/PROTOCOL.md): loads - redeemed = Σ card balances
        + in-doubt + recoveries not yet loaded, with every card's reconstructed balance."""
        return self.storage.append(self._ledger)

    def _ledger(self, tx):
        accounts = _accounts(tx)
        cards = [bytes(r[0]) for r in tx.all("SELECT DISTINCT card_id FROM vouchers")]
        balances = {c.hex(): _sums(tx, c) for c in cards if c not in accounts}
        redeemed = sum(_sums(tx, c)["received"] for c in accounts)
        loads = 0
        for (card_id,) in tx.all("SELECT DISTINCT card_id FROM vouchers"):
            loads += _loaded(tx, bytes(card_id))
        in_doubt = tx.one(
            "SELECT COALESCE(SUM(p.amount), 0) FROM payments p"  # noqa: S608
            " WHERE NOT " + _LOGGED + " AND NOT " + _SETTLED
        )[0]
        unloaded = tx.one(
            "SELECT COALESCE(SUM(amount), 0) FROM recoveries WHERE voucher_sequence IS NULL"
        )[0]
        shortfall = tx.one("SELECT COALESCE(SUM(shortfall), 0) FROM recoveries")[0]
        return {
            "loads": int(loads),
            "redeemed": int(redeemed),
            "accounts": sorted(c.hex() for c in accounts),
            "balances": sum(b["balance"] for b in balances.values()),
            "in_doubt": int(in_doubt),
            "recoveries_unloaded": int(unloaded),
            "shortfall": int(shortfall),
            "tree_size": int(tx.one("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM leaves")[0]),
            "cards": balances,
        }


def _accounts(tx):
    """The issuer's redemption accounts: what they receive is redeemed."""
    rows = tx.all("SELECT DISTINCT card_id FROM vouchers WHERE reason = 'redemption'")
    return {bytes(r[0]) for r in rows}


def _revoked(tx, card_id):
    return tx.one("SELECT 1 FROM revoked_cards WHERE card_id = ?", (card_id,)) is not None


def _judged_sums(tx, card_id, barred):
    """A card's sums as the overspend alert judges them: every payment of a card in `barred`,
    and for any other the payments up to the last stamp the card took and beyond the next
    JOURNAL_MAX. The stamp the card took is the newest one its journalled payments show, not
    the newest L signed: anyone may ask L for a stamp, but a card takes one only with its
    outbox receipted (wallet.credentials.take_stamp)."""
    if card_id in barred:
        return _sums(tx, card_id)
    row = tx.one("SELECT MAX(shown) FROM payments WHERE payer_id = ?", (card_id,))
    return _sums(tx, card_id, 0 if row[0] is None else int(row[0]))


def _proven_modified(tx, card_id):
    """Whether evidence proves the card cloned or its firmware modified."""
    row = tx.one(
        "SELECT 1 FROM evidence WHERE kind IN ('counter-reuse', 'identity-conflict')"
        " AND payer_id = ?",
        (card_id,),
    )
    return row is not None


def _payment_state(tx, key):
    logged = "SELECT 1 FROM payments p WHERE p.payment_key = ? AND " + _LOGGED  # noqa: S608
    if tx.one(logged, (key,)):
        return "logged"
    row = tx.one("SELECT kind FROM settlements WHERE payment_key = ?", (key,))
    return "in-doubt" if row is None else row[0]


def _loaded(tx, card_id):
    """What the issuer loaded onto a card for value: its issued total less refunds and
    recovered balances."""
    issued = tx.one("SELECT COALESCE(MAX(issued), 0) FROM vouchers WHERE card_id = ?", (card_id,))[
        0
    ]
    refunds = tx.one(
        "SELECT COALESCE(SUM(s.amount), 0) FROM settlements s JOIN vouchers v"
        " ON v.card_id = s.payer_id AND v.sequence = s.voucher_sequence"
        " WHERE s.payer_id = ? AND s.kind = 'refunded'",
        (card_id,),
    )[0]
    recovered = tx.one(
        "SELECT COALESCE(SUM(amount), 0) FROM recoveries WHERE successor = ?"
        " AND voucher_sequence IS NOT NULL",
        (card_id,),
    )[0]
    return int(issued) - int(refunds) - int(recovered)


def _sums(tx, card_id, stamped=None):
    """A card's reconstructed balance: issued + received - paid, where paid counts logged
    payments, in-doubt and refunded journal payments (the card debited them), and what a
    recovery carried to the successor (less the shortfall of an overspent card, so that a
    closed card always ends at 0); reverted payments count for nothing. With `stamped`, the
    payer counter of the card's last stamp, paid leaves out the payments the card may make
    after it (the next JOURNAL_MAX counters), which may spend credits not logged yet."""
    if stamped is None:
        bound, params = "", (card_id,)
    else:
        bound = " AND ({0}counter <= ? OR {0}counter > ?)"
        params = (card_id, stamped, stamped + proto.JOURNAL_MAX)
    issued = tx.one("SELECT COALESCE(MAX(issued), 0) FROM vouchers WHERE card_id = ?", (card_id,))[
        0
    ]
    received = tx.one(
        "SELECT COALESCE(SUM(amount), 0) FROM leaves WHERE recipient_id = ?", (card_id,)
    )[0]
    paid = tx.one(
        "SELECT COALESCE(SUM(amount), 0) FROM leaves WHERE payer_id = ?"  # noqa: S608
        + bound.format(""),
        params,
    )[0]
    unlogged = tx.one(
        "SELECT COALESCE(SUM(p.amount), 0) FROM payments p WHERE p.payer_id = ?"  # noqa: S608
        + bound.format("p.")
        + " AND NOT "
        + _LOGGED
        + " AND NOT EXISTS (SELECT 1 FROM settlements s"
        " WHERE s.payment_key = p.payment_key AND s.kind = 'reverted')",
        params,
    )[0]
    carried = tx.one(
        "SELECT COALESCE(SUM(amount - shortfall), 0) FROM recoveries WHERE card_id = ?",
        (card_id,),
    )[0]
    issued, received, paid, unlogged, carried = (
        int(issued), int(received), int(paid), int(unlogged), int(carried)
    )  # fmt: skip
    return {
        "issued": issued,
        "received": received,
        "paid": paid,
        "unlogged_paid": unlogged,
        "carried_over": carried,
        "balance": issued + received - paid - unlogged - carried,
    }


def check_reason(reason, reference):
    """Parse the API's (reason, reference hex) of a voucher; raises SubmitError."""
    if reason is None:
        reason = "load"
    if reason not in REASONS:
        raise SubmitError(400, "reason must be one of %s" % ", ".join(REASONS))
    if reason in UNREFERENCED:
        if reference is not None:
            raise SubmitError(400, "a %s voucher names no reference" % reason)
        return reason, None
    if reference is None:
        raise SubmitError(400, "a %s voucher names its reference" % reason)
    try:
        value = bytes.fromhex(reference) if isinstance(reference, str) else None
    except ValueError:
        value = None
    sizes = {"refund": 77, "recovery": 8}
    if value is None or len(value) != sizes.get(reason, -1):
        raise SubmitError(
            400, "reference must be the %s as hex"
            % ("payment key (77 bytes)" if reason == "refund" else "old card id (8 bytes)")
        )  # fmt: skip
    return reason, value
