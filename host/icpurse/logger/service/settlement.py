"""Settlement at the logger: in-doubt payments, refunds and recoveries (docs/PROTOCOL.md
sections 7.1 and 7.2).

- A payer's terminal uploads the card's journal (`add_payments`, journals.py): every payment
  the card signed and debited. One whose log record never arrives is *in doubt*: debited from
  the payer, credited to nobody the logger knows.
- After the settlement window (counted in L-time from when the logger first saw it) an in-doubt
  payment may be refunded: the issuer signs the payer a voucher raised by the amount, naming the
  payment, and the logger records the voucher and settles the payment in one transaction. A log
  record that arrives later is kept as evidence and not credited (appender.py).
- A damaged or lost card is recovered (`recover`): once the CA has revoked it and the window
  has passed since the logger learned of it, the logger closes its ledger — in-doubt payments of
  that card revert to it — and signs a balance statement naming the successor card; the issuer
  then loads the successor with a voucher for that balance, which the logger checks likewise.

Every write that depends on what the log holds runs in the sequencer's transaction
(`storage.append`), so a refund and a late log record of the same payment cannot both win.
The ledger totals are in totals.py, the queries in icpurse.logger.storage. LoggerService
inherits these methods; they need `storage`, `signer`, `backend`, `ca_key`,
`issuer_key`, `window` and `ltime()` from it.
"""

from icpurse.authority.issuer import REASONS
from icpurse.logger.service.errors import SubmitError, WindowOpen
from icpurse.logger.service.totals import judged_sums, payment_state, sums
from icpurse.logger.storage.rows import Recovery, Voucher
from purse import proto
from purse.records import fields as f
from purse.records.credentials import Voucher as VoucherRecord
from purse.records.statement import BalanceStatement

# Reasons that name no reference ("redemption" marks the issuer's redemption account, w = 0).
UNREFERENCED = ("load", "redemption")
# The size of a voucher's reference: a refund names a payment key, PkUA || ChallID || G1 ||
# ctrA; a recovery the old card's IdU.
REFERENCE_SIZES = {
    "refund": proto.PAYMENT_KEY_SIZE,
    "recovery": proto.CARD_ID_SIZE,
}


class SettlementViews:
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
        voucher = self._checked(VoucherRecord, data, self.issuer_key, "voucher")
        if voucher.log_id != self.log_id:
            # A voucher for a card of another log (maybe one that shares this logger's key):
            # recorded here, it would make this ledger the card's, which its payments never
            # reach (docs/PROTOCOL.md section 7.7).
            raise SubmitError(
                422, "the voucher names log %s, not this log %s"
                % (voucher.log_id.hex(), self.log_id.hex())
            )  # fmt: skip
        return self.storage.append(lambda tx: self._store_voucher(tx, voucher, reason, reference))

    def _store_voucher(self, tx, voucher, reason, reference):
        card_id = f.card_id(voucher.public_key)
        row = tx.voucher(card_id, voucher.sequence)
        if row is not None:
            if bytes(row.record) != voucher.encode() or row.reason != reason:
                raise SubmitError(409, "another voucher with this sequence is recorded")
            return card_id
        prior = tx.latest_voucher(card_id)
        raised = voucher.issued - (int(prior.issued) if prior else 0)
        if prior is not None and voucher.sequence <= int(prior.sequence):
            raise SubmitError(409, "a newer voucher for this card is already recorded")
        ltime = self.ltime()
        if reason == "refund":
            self._check_refund(tx, voucher, bytes(reference), raised, ltime)
        elif reason == "recovery":
            self._check_recovery(tx, voucher, card_id, bytes(reference), raised)
        elif reason == "redemption" and (prior is not None or voucher.issued != 0):
            raise SubmitError(422, "a redemption account is a new card with w = 0")
        tx.add_voucher(
            Voucher(card_id, voucher.sequence, voucher.issued, voucher.public_key,
                    voucher.encode(), reason, None if reference is None else bytes(reference))
        )  # fmt: skip
        return card_id

    def _check_refund(self, tx, voucher, key, raised, ltime):
        row = tx.journal_payment(key)
        if row is None:
            raise SubmitError(404, "no journalled payment with this payment key")
        payer_id, amount = bytes(row.payer_id), int(row.amount)
        if bytes(row.payer_key) != voucher.public_key:
            raise SubmitError(422, "the refund voucher is for another card than the payer")
        _check_refundable(tx, payer_id)
        state = payment_state(tx, key)
        if state != "in-doubt":
            raise SubmitError(409, "the payment is %s, not in doubt" % state)
        due = int(row.seen) + self.refund_delay()
        if ltime < due:
            raise WindowOpen(
                "the settlement window of this payment closes at L-time %d" % due, due - ltime
            )
        if raised != amount:
            raise SubmitError(
                422, "the voucher raises the issued total by %d, the payment was %d"
                % (raised, amount)
            )  # fmt: skip
        tx.add_settlement(key, payer_id, amount, "refunded", voucher.sequence, ltime)

    def _check_recovery(self, tx, voucher, card_id, old_id, raised):
        row = tx.recovery(old_id)
        if row is None:
            raise SubmitError(404, "card %s has not been recovered" % old_id.hex())
        if bytes(row.successor) != card_id:
            raise SubmitError(422, "card %s was recovered onto another card" % old_id.hex())
        if row.voucher_sequence is not None:
            raise SubmitError(409, "the balance of card %s is already loaded" % old_id.hex())
        if raised != int(row.amount):
            raise SubmitError(
                422, "the voucher raises the issued total by %d, the statement says %d"
                % (raised, int(row.amount))
            )  # fmt: skip
        tx.mark_recovery_loaded(old_id, voucher.sequence)

    # --- recovery -----------------------------------------------------------------------------

    def recover(self, card_id, successor):
        """Close the ledger of revoked card `card_id` and sign its balance statement naming
        `successor`. Asking again returns the same statement."""
        card_id, successor = bytes(card_id), bytes(successor)
        if card_id == successor:
            raise SubmitError(400, "a card cannot be recovered onto itself")
        return self.storage.append(lambda tx: self._recover(tx, card_id, successor))

    def _recover(self, tx, card_id, successor):
        done = tx.recovery(card_id)
        if done is not None:
            if bytes(done.successor) != successor:
                raise SubmitError(409, "card %s was recovered onto another card" % card_id.hex())
            return bytes(done.statement)
        voucher = tx.latest_voucher(card_id)
        if voucher is None:
            raise SubmitError(404, "unknown card %s" % card_id.hex())
        if tx.recovery(successor) is not None:
            raise SubmitError(409, "the successor card %s is itself closed" % successor.hex())
        closes = _window_end(tx, card_id, self.window)
        ltime = self.ltime()
        if ltime < closes:
            raise WindowOpen(
                "the settlement window of card %s closes at L-time %d" % (card_id.hex(), closes),
                closes - ltime,
            )
        # In-doubt payments of the old card revert to it (their recipients had the whole window
        # to log them); those still inside their own window keep the recovery waiting.
        pending = tx.unsettled(card_id)
        latest = max([int(p.seen) + self.refund_delay() for p in pending] or [0])
        if ltime < latest:
            raise WindowOpen(
                "an in-doubt payment of card %s settles at L-time %d" % (card_id.hex(), latest),
                latest - ltime,
            )
        for p in pending:
            tx.add_settlement(bytes(p.payment_key), card_id, int(p.amount), "reverted", None,
                              ltime)  # fmt: skip
        totals = sums(tx, card_id)
        balance = max(0, totals["balance"])
        statement = BalanceStatement(
            card_id, bytes(voucher.public_key), successor, min(balance, proto.MAX_AMOUNT),
            tx.tree_size(), ltime, self.log_id,
        ).sign(self.signer)  # fmt: skip
        encoded = statement.encode()
        tx.add_recovery(
            Recovery(card_id, successor, statement.balance, balance - totals["balance"], encoded,
                     ltime, None)
        )  # fmt: skip
        return encoded


def _window_end(tx, card_id, window):
    """The L-time at which the settlement window of revoked card `card_id` closes; refused if
    the CA has not revoked it."""
    revoked = tx.revoked_at(card_id)
    if revoked is None:
        raise SubmitError(409, "card %s is not revoked: the CA revokes it first" % card_id.hex())
    return int(revoked) + window


def _check_refundable(tx, payer_id):
    """Refuse a refund to a payer that is revoked, proven cloned or modified, or overspent."""
    if tx.is_revoked(payer_id):
        # A revoked card's payments settle at its recovery (reverted into its balance
        # statement) or not at all: a card that keeps spending after its revocation must
        # never be refunded for it (docs/PROTOCOL.md section 7.1).
        raise SubmitError(409, "the payer card %s is revoked: it is never refunded"
                          % payer_id.hex())  # fmt: skip
    if tx.proven_modified(payer_id):
        raise SubmitError(409, "the payer card %s reused a payer counter or signed two"
                          " amounts for one challenge: it is never refunded"
                          % payer_id.hex())  # fmt: skip
    if judged_sums(tx, payer_id, set())["balance"] < 0:
        # The overspend alert names it: a payer that spent more than it was given (its
        # modified firmware signed payments it did not debit) gets no refund on top.
        raise SubmitError(409, "the payer card %s has overspent: it is not refunded"
                          % payer_id.hex())  # fmt: skip


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
    if value is None or len(value) != REFERENCE_SIZES.get(reason, -1):
        raise SubmitError(
            400, "reference must be the %s as hex"
            % ("payment key (77 bytes)" if reason == "refund" else "old card id (8 bytes)")
        )  # fmt: skip
    return reason, value
