"""The payer's side of a transfer (docs/DESIGN.md section 2, step 2): answer a challenge with S.

A challenge already in the journal gets the journalled payment again, so a retry never debits
twice. Otherwise the card checks amount, balance and limits (and, in the identified mode, the
recipient's certificate and revocation), asks its holder, increments ctrA, and debits and
journals the signed payment in one commit before the payment leaves the card. The journal
keeps every payment until a stamp from L acknowledges it (wallet.credentials.take_stamp); a
full journal refuses to pay, and so does a card without a stamp fresh enough for recipients.
"""

from purse import proto
from purse.errors import (
    CryptoError,
    Declined,
    InsufficientFunds,
    JournalFull,
    LimitExceeded,
    MustSync,
    NotFound,
    Revoked,
    WrongState,
)
from purse.records.transfer import Challenge, Payment
from purse.wallet.state import G1_PREFIX_SIZE, JournalEntry


def _journalled(card, challenge):
    """The stored payment bytes answering exactly this challenge, or None.

    The same (ChallID, G1) with different contents is a conflicting challenge: it is refused
    rather than paid, since a payment's identity is (PkUA, ChallID, G1).
    """
    prefix = challenge.g1[:G1_PREFIX_SIZE]
    for entry in card.state.journal:
        if entry.chall_id == challenge.chall_id and entry.g1_prefix == prefix:
            data = card.store.read_blob(entry.name)
            if Payment.decode(data).answers(challenge):
                return data
            raise CryptoError("challenge conflicts with a journalled payment")
    return None


def pay(card, data):
    """PAY: the payment record answering the challenge `data`."""
    card.require(proto.STATE_READY)
    challenge = Challenge.decode(data)
    again = _journalled(card, challenge)
    if again is not None:
        return again
    # The holder's approval first (where the confirmation can say so without being spent,
    # purse.tap.Armed.admits): a payment no one approved is refused alike whatever the
    # balance, limits or sync state, so that a reader in the field cannot find the balance
    # with made-up amounts, and before a verification, so that it cannot time the refusal.
    admits = getattr(card.confirm, "admits", None)
    if admits is not None and not admits(challenge.x):
        raise Declined("the holder declined")
    risk = card.require_trade()
    x = challenge.x
    if x > risk.payment_cap:
        raise LimitExceeded("%d is over the payment cap" % x)
    if x > card.state.balance:
        raise InsufficientFunds("balance %d is below %d" % (card.state.balance, x))
    voucher = card.voucher()
    if voucher is None:
        raise WrongState("the card has no voucher to show")
    stamp = card.stamp()
    # Recipients refuse a payer without a stamp younger than the window: paying would only
    # debit a payment no one credits.
    if stamp is None or stamp.ltime + risk.window < card.state.ltime:
        raise MustSync("the card's stamp from the logger is missing or too old: sync first")
    if len(card.state.journal) >= proto.JOURNAL_MAX:
        raise JournalFull("the journal holds %d payments the logger has not acknowledged"
                          % len(card.state.journal))  # fmt: skip
    recipient = None
    if challenge.mode == proto.SEAL_SIGNED:
        recipient = challenge.verify_identified(card.backend, card.state.ca_key, card.state.ltime)
        if card.is_revoked(recipient.card_id):
            raise Revoked("the recipient's certificate is revoked")
    if card.confirm is not None and not card.confirm(
        x, None if recipient is None else recipient.card_id
    ):
        raise Declined("the holder declined")
    state = card.next_state()
    state.pay_counter += 1
    state.balance -= x
    payment = Payment.answering(challenge, state.pay_counter, card.certificate(), voucher, stamp)
    # Boards mix fresh entropy into RFC 6979 (section 3.6) so power traces do not repeat.
    payment.sign(card.signer(), card.rng(32))
    encoded = payment.encode()
    number = state.take_blob_number()
    entry = JournalEntry(
        number, challenge.chall_id, challenge.g1[:G1_PREFIX_SIZE], x, state.pay_counter
    )
    state.journal.append(entry)
    card.commit(state, {entry.name: encoded})
    return encoded


def journal_payment(card, index):
    """READ JOURNAL: the signed payment at `index`, oldest first."""
    card.require(proto.STATE_READY)
    if index >= len(card.state.journal):
        raise NotFound("no journal entry %d" % index)
    return card.store.read_blob(card.state.journal[index].name)
