"""The terminal: it relays the patent's exchange between a payer card and a recipient card.

The relay is untrusted by design — every guarantee is card-to-card cryptography — so this code
only moves records and tells people what happened: paid, refused (and why, in words), or in
doubt (the payer signed and debited, the recipient did not credit; the payment stays in the
payer's journal for reconciliation).
"""

from icpurse.statuswords import explain
from purse import proto
from purse.client import CardError, WrongPayment
from purse.records.log import LogRecord
from purse.records.transfer import Payment


class TransferRefused(Exception):
    """A card refused before any value moved; nothing is in doubt."""


class TransferInDoubt(Exception):
    """The payer debited and signed, the recipient did not credit: left for reconciliation."""

    def __init__(self, message, payment):
        super().__init__(message)
        self.payment = payment


class Outcome:
    def __init__(self, payment, receipts, was_resent, credited, synced=None):
        self.payment = payment
        self.receipts = receipts
        # The recipient's SyncReport with a logger, else None.
        self.synced = synced
        self.was_resent = was_resent
        # What the recipient's card says it credited (None when a resent ACCEPT found the
        # payment already credited before a reset: then it is the payment's amount).
        self.credited = credited


def _credited(recipient, payment):
    """True if the recipient's outbox holds this payment's log record (by its identity)."""
    identity = Payment.decode(payment).identity()
    return any(LogRecord.decode(r).identity() == identity for r in recipient.outbox())


def transfer(payer, recipient, amount, mode=proto.SEAL_ENCRYPTED, logger=None, ticket=False):
    """Move `amount` from `payer` to `recipient` (purse.client.CardClient objects).

    With `logger` (a LoggerClient) the recipient's log is synced afterwards; with `ticket`
    the recipient requires the logger's ready-ticket (embodiment 2).
    """
    try:
        challenge = recipient.make_challenge(amount, mode, needs_ticket=ticket)
    except CardError as exc:
        raise TransferRefused("the recipient refused to make a challenge: %s" % explain(exc.sw))
    ready = None
    if ticket:
        # The ticket comes before PAY: if the logger cannot vouch for itself now, nothing has
        # been debited yet (the nonce it binds is held by the recipient only).
        try:
            ready = logger.ticket(recipient.get_nonce())
        except CardError as exc:
            raise TransferRefused("the recipient gave no nonce: %s" % explain(exc.sw)) from None
    try:
        payment = payer.pay(challenge)
    except CardError as exc:
        raise TransferRefused("the payer refused: %s" % explain(exc.sw)) from None
    was_resent = False
    credited = None
    try:
        credited, _ = recipient.accept(challenge, payment, ready)
    except WrongPayment as exc:
        raise TransferInDoubt(
            "the payer's answer does not answer the challenge (%s); the recipient was not "
            "asked to credit it, and the payer's journal keeps it for reconciliation" % exc,
            payment,
        ) from None
    except CardError as exc:
        # After a reset the card may have credited before it lost the answer: its outbox
        # tells. Otherwise the payment is in doubt and stays in the payer's journal.
        if exc.sw == proto.SW_CHALLENGE_UNKNOWN and _credited(recipient, payment):
            was_resent = True
        else:
            raise TransferInDoubt(
                "the recipient refused the payment (%s); the payer has debited it, and it "
                "stays in the payer's journal for reconciliation" % explain(exc.sw),
                payment,
            ) from None
    receipts, synced = 0, None
    if logger is not None:
        synced = logger.sync(recipient)
        receipts = synced.receipted
    if credited is None:
        credited = Payment.decode(payment).x
    return Outcome(payment, receipts, was_resent, credited, synced)
