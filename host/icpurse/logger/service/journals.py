"""Payers' journals and stamps at the logger (docs/PROTOCOL.md section 7.1).

A payer's terminal uploads the card's journal (`add_payments`): every payment the card signed
and debited. One whose log record never arrives is *in doubt*: debited from the payer,
credited to nobody the logger knows, and refundable after the settlement window
(settlement.py). A card's stamp says that L holds every payment it signed up to a payer
counter. LoggerService inherits `JournalViews`; it needs `storage`, `signer`, `backend`,
`ca_key`, `issuer_key`, `window` and `ltime()` from it.
"""

from icpurse.logger.service.errors import SubmitError
from icpurse.logger.service.totals import judged_sums, payment_state
from icpurse.logger.storage.rows import JournalPayment
from purse.errors import CryptoError, RecordError
from purse.records import fields as f
from purse.records.stamp import Stamp
from purse.records.transfer import Payment

MAX_JOURNAL_UPLOAD = 64


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


class JournalViews:
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
        # The journal of a card of another log (one that shares this logger's key, say): its
        # payments are that log's to settle, and taken in here they would be in doubt, and
        # the card overspent, in a ledger that never saw it loaded (docs/PROTOCOL.md 7.7).
        for record in (payment.voucher, payment.stamp):
            if record.log_id != self.log_id:
                raise SubmitError(
                    422, "the payment's %s names log %s, not this log %s"
                    % (record.__class__.__name__.lower(), record.log_id.hex(), self.log_id.hex())
                )  # fmt: skip
        payer_id = payment.certificate.card_id
        if not self.storage.known_card(payer_id):
            raise SubmitError(
                404, "unknown card %s: never loaded on this log %s, its journal is another's"
                % (payer_id.hex(), self.log_id.hex())
            )  # fmt: skip
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
        return [_store_payment(tx, data, payment, ltime) for _, data, payment in checked]

    def in_doubt(self, card_id=None):
        """Journalled payments not logged and not settled, with the L-time from which each may
        be refunded."""
        now = self.ltime()
        delay = self.refund_delay()
        barred = self.barred()
        rows = self.storage.unsettled(None if card_id is None else bytes(card_id))
        # A payer the overspend alert names is not refunded either (see _check_refund).
        barred |= {
            payer
            for payer in {bytes(r.payer_id) for r in rows} - barred
            if judged_sums(self.storage, payer, barred)["balance"] < 0
        }
        return [
            {
                "payment_key": bytes(r.payment_key).hex(),
                "payer_id": bytes(r.payer_id).hex(),
                "amount": int(r.amount),
                "payer_counter": int(r.counter),
                "seen": int(r.seen),
                "refundable_from": int(r.seen) + delay,
                # A revoked payer's payments settle at its recovery, never by refund, and a
                # payer proven cloned or modified, or overspent, is refunded nothing.
                "due": now >= int(r.seen) + delay and bytes(r.payer_id) not in barred,
                "payment": bytes(r.record).hex(),
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
        if not tx.known_card(card_id):
            # A card provisioned with another logger (maybe one of the same key) is unknown
            # here: its stamps are its own log's to give.
            raise SubmitError(404, "unknown card %s: never loaded on this log %s"
                              % (card_id.hex(), self.log_id.hex()))  # fmt: skip
        if tx.is_revoked(card_id):
            raise SubmitError(403, "card %s is revoked: it gets no stamp" % card_id.hex())
        last = tx.latest_stamp(card_id)
        since = 0 if last is None else int(last.counter)
        if counter < since:
            raise SubmitError(409, "the card's last stamp already covers payer counter %d" % since)
        held = tx.journalled_counters(card_id, since, counter)
        if held != counter - since:
            raise SubmitError(
                409, "the logger holds %d of the card's payments %d to %d: upload its journal"
                " first" % (held, since + 1, counter)
            )  # fmt: skip
        ltime = max(self.ltime(), 0 if last is None else int(last.ltime))
        encoded = Stamp(card_id, counter, ltime, self.log_id).sign(self.signer).encode()
        if last is None:
            tx.add_stamp(card_id, counter, ltime, encoded)
        else:
            tx.replace_stamp(card_id, counter, ltime, encoded)
        return encoded


def _store_payment(tx, data, payment, ltime):
    """Journal one checked payment (unless it is already); its result for the API."""
    identity = payment_identity(payment)
    key = payment_key(payment)
    payer_id = payment.certificate.card_id
    if tx.journal_payment(key) is None:
        clash = _counter_clash(tx, payment, identity, key)
        if clash is not None:
            tx.add_evidence(
                "counter-reuse", identity, payer_id, data, clash, payment.signature, ltime
            )
            return {"status": 409, "evidence": "counter-reuse",
                    "error": "payer counter %d already used: clone" % payment.counter}  # fmt: skip
        # `shown`: the counter of the stamp the payment shows, which the card took.
        tx.add_payment(
            JournalPayment(
                payment_key=key, identity=identity, payer_id=payer_id,
                payer_key=payment.payer_key, counter=payment.counter, amount=payment.x,
                record=data, seen=ltime, shown=payment.stamp.counter,
            )
        )  # fmt: skip
    return {"status": 200, "state": payment_state(tx, key)}


def _counter_clash(tx, payment, identity, key):
    """The leaf that used the payment's payer counter for another payment (-1: a journalled
    payment used it), or None."""
    clash = tx.leaf_with_counter(payment.payer_key, payment.counter, identity, key)
    if clash is None and tx.counter_journalled(payment.payer_key, payment.counter):
        clash = -1
    return clash
