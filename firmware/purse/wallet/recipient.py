"""The recipient's side of a transfer (docs/DESIGN.md section 2, steps 1, 3 and 4).

make_challenge persists the challenge counter before the challenge leaves the card, and keeps
the challenge pending in RAM (with, outside the encrypted mode, what it must remember) for
proto.CHALLENGE_TTL_MS of the card's running clock. accept takes a payment only for the
challenge the terminal names, runs every check of the patent's step 3 and then, in one commit,
erases the ChallID, credits the amount and queues the log record. take_receipt drops exactly
the outbox entry a valid logger receipt names.
"""

from purse import proto
from purse.crypto.hmac import equal
from purse.crypto.seal import TAG_SIZE, SealKey
from purse.errors import (
    CryptoError,
    LimitExceeded,
    NotFound,
    Revoked,
    StalePayer,
    UnknownChallenge,
    WrongState,
)
from purse.records import fields as f
from purse.records.log import LogRecord
from purse.records.transfer import Challenge, Payment
from purse.wallet.card import advance_ltime
from purse.wallet.state import PENDING_NEEDS_TICKET, OutboxEntry, Pending


def make_challenge(card, mode, x, needs_ticket=False):
    """MAKE CHALLENGE: a challenge for `x` in seal `mode`; with `needs_ticket`, ACCEPT will
    require a ready-ticket (embodiment 2). Returns the encoded challenge."""
    risk = card.require_trade()
    if mode not in proto.SEAL_MODES:
        raise WrongState("unknown seal mode %d" % mode)
    if x < 1 or x > proto.MAX_AMOUNT:
        raise LimitExceeded("amount %d outside 1..%d" % (x, proto.MAX_AMOUNT))
    if card.state.balance + x > risk.balance_cap:
        raise LimitExceeded("receiving %d would pass the balance cap" % x)
    if x > risk.payment_cap:
        raise LimitExceeded("%d is over the payment cap" % x)
    state = card.next_state()
    state.chall_counter += 1
    # ChallID: the persisted challenge counter, then random bytes.
    chall_id = f.u32(state.chall_counter) + bytes(card.rng(proto.CHALL_ID_SIZE - proto.U32_SIZE))
    r1 = bytes(card.rng(proto.RANDOM_SIZE))
    r2 = bytes(card.rng(proto.RANDOM_SIZE))
    card_id = card.card_id()
    challenge = Challenge(mode, f.g1(card_id, r1), f.g2(state.public_key, r2), None, x, chall_id)
    flags = mode | (PENDING_NEEDS_TICKET if needs_ticket else 0)
    if mode == proto.SEAL_ENCRYPTED:
        plaintext = f.sealed_plaintext(r1, r2, x, chall_id)
        challenge.sealed = SealKey(state.seal_key).seal(chall_id, plaintext)
        entry = Pending(chall_id, flags, 0)
    else:
        entry = Pending(chall_id, flags, 0, r1, r2, x)
        if mode == proto.SEAL_HASHED:
            challenge.sealed = f.scrambled(r1, r2, x, chall_id)
        elif mode == proto.SEAL_SIGNED:
            challenge.certificate = card.certificate()
            challenge.sign(card.signer(), card.rng(32))
    encoded = challenge.encode()
    # The counter is stored before the challenge leaves: a ChallID (the seal's nonce) is never
    # handed out twice, power cuts included.
    card.commit(state)
    # The challenge's lifetime starts when it is ready to leave the card, after the slow work
    # of signing it (mode 3) and storing the counter.
    entry.made = card.clock()
    card.pending.append(entry)
    if len(card.pending) > proto.PENDING_MAX:
        card.pending.pop(0)
    return encoded


def _challenge_values(card, entry, payment):
    """(R1, R2, x) of the pending challenge the payment answers; a mismatch is an integrity
    failure, reported to the peer like any other."""
    if entry.mode == proto.SEAL_ENCRYPTED:
        if payment.sealed is None:
            raise CryptoError("eC missing from the payment")
        key = SealKey(card.state.seal_key)
        plain = key.open(
            entry.chall_id, payment.sealed, plaintext_length=proto.SEALED_SIZE - TAG_SIZE
        )
        r1, r2, x, chall_id = f.split_sealed_plaintext(plain)
        if chall_id != entry.chall_id:
            raise CryptoError("eC seals another ChallID")
        return r1, r2, x
    if entry.mode == proto.SEAL_HASHED:
        expected = f.scrambled(entry.r1, entry.r2, entry.x, entry.chall_id)
        if payment.sealed is None or not equal(payment.sealed, expected):
            raise CryptoError("eC does not match the challenge")
    elif payment.sealed is not None:
        raise CryptoError("eC in a payment for a challenge without one")
    return entry.r1, entry.r2, entry.x


def _pending(card, chall_id):
    """The pending challenge `chall_id`, if it is still alive; expired ones are dropped."""
    now = card.clock()
    alive = []
    found = None
    for entry in card.pending:
        if now - entry.made <= proto.CHALLENGE_TTL_MS:
            alive.append(entry)
            if entry.chall_id == chall_id:
                found = entry
    card.pending = alive
    if found is None:
        raise UnknownChallenge("ChallID is not pending, or its lifetime has passed")
    return found


def accept(card, data, expected, ticket=None, rtt=None):
    """ACCEPT: check a payment against the pending challenge `expected` (the ChallID the
    terminal names) and credit it. Returns (the amount credited, the new balance). `ticket` is
    the ready-ticket, required if the challenge asked for one; `rtt` a tap's slowest APDU
    round trip in microseconds, kept in the log record."""
    risk = card.require_trade()
    payment = Payment.decode(data)
    # A payment for another of this card's challenges is refused even if that one is pending:
    # a payer must not answer today's challenge with a payment it withheld from an earlier one.
    if not equal(payment.chall_id, expected):
        raise UnknownChallenge("the payment answers another challenge")
    entry = _pending(card, payment.chall_id)
    r1, r2, x = _challenge_values(card, entry, payment)
    card_id = card.card_id()
    if not (
        equal(payment.g1, f.g1(card_id, r1))
        and equal(payment.g2, f.g2(card.state.public_key, r2))
        and payment.x == x
    ):
        raise CryptoError("G1, G2 or x does not match the challenge")
    # A payer of another log is refused: the card's own logger would refuse the record, whose
    # payer voucher names that log, so the credit could never be logged.
    s = card.state
    payment.verify_chain(card.backend, s.ca_key, s.issuer_key, s.ltime, s.log_id)
    if card.is_revoked(payment.certificate.card_id):
        raise Revoked("the payer's certificate is revoked")
    # The payer's stamp: L held its payments up to the stamp's counter at the stamp's L-time,
    # and L stamps no revoked card. A payer that has not synced within the window is refused,
    # so every card goes online, and a revoked one stops being paid a window after its last
    # sync even where the revocation list has not reached (docs/PROTOCOL.md section 7.0).
    stamp = payment.stamp
    stamp.verify(card.backend, s.logger_key, s.log_id)
    if stamp.card_id != payment.certificate.card_id:
        raise CryptoError("the stamp is for another card than the payer")
    if not stamp.counter < payment.counter <= stamp.counter + proto.JOURNAL_MAX:
        raise CryptoError("the payer counter does not follow the stamp")
    if stamp.ltime + risk.window < card.state.ltime:
        raise StalePayer("the payer's stamp is older than the settlement window")
    # The payer's card enforces the cap too, but a payer is not trusted to: a modified or
    # cloned card would otherwise move any amount to any recipient.
    if x > risk.payment_cap:
        raise LimitExceeded("%d is over the payment cap" % x)
    state = card.next_state()
    # L-time travels with stamps: a recipient that has not synced learns the time from its
    # payers, so its own outbox ages and its own stamp goes stale on schedule.
    advance_ltime(state, stamp.ltime)
    if entry.flags & PENDING_NEEDS_TICKET:
        # Imported here: most challenges need no ticket, and a card's heap is small.
        from purse.wallet.tickets import check_ticket

        advance_ltime(state, check_ticket(card, ticket, risk.window).ltime)
    if state.balance + x > risk.balance_cap:
        raise LimitExceeded("crediting %d would pass the balance cap" % x)
    if state.unlogged_credit() + x > risk.unlogged_cap:
        raise LimitExceeded("crediting %d would pass the unlogged-credit cap" % x)
    if len(state.outbox) >= proto.OUTBOX_MAX:
        raise LimitExceeded("the outbox is full: sync with the logger")
    # B signs H(record): L credits only what a card accepted, and knows which payment it was.
    # What the checks parsed and the record does not carry goes first: the signature is the
    # command's last big allocation, and a card's heap is small.
    payment.stamp = stamp = payment.body = None
    log = LogRecord(card_id, r1, payment, rtt)
    # The record goes to the store unencoded: it frames itself in the store's commit buffer.
    log.sign(card.signer(), card.certificate(), card.rng(32))
    number = state.take_blob_number()
    queued = OutboxEntry(number, payment.chall_id, x, state.ltime)
    state.balance += x
    state.outbox.append(queued)
    card.commit(state, {queued.name: log})
    card.pending = [p for p in card.pending if p is not entry]
    if entry.flags & PENDING_NEEDS_TICKET:
        card.nonce = None
    return x, state.balance


def take_receipt(card, data):
    """TAKE RECEIPT: a receipt signed by L for the challenge of one of the outbox's records
    drops that entry and advances L-time. The receipt may be for another record of the same
    challenge and amount, which L stored first (the payer signed the challenge twice): it
    credits the card just the same (docs/PROTOCOL.md section 7.1)."""
    card.require(proto.STATE_READY)
    from purse.records.logger import Receipt  # Only receipts need it (a card's heap is small).

    receipt = Receipt.decode(data)
    receipt.verify(card.backend, card.state.logger_key, card.state.log_id)
    if receipt.recipient_id != card.card_id():
        raise NotFound("the receipt is for another card")
    for entry in card.state.outbox:
        if entry.chall_id == receipt.chall_id:
            state = card.next_state()
            state.outbox = [e for e in state.outbox if e is not entry]
            advance_ltime(state, receipt.ltime)
            card.commit(state, None, (entry.name,))
            return
    raise NotFound("no outbox entry matches the receipt")


def outbox_record(card, index):
    """READ OUTBOX: the log record at `index`, oldest first."""
    card.require(proto.STATE_READY)
    if index >= len(card.state.outbox):
        raise NotFound("no outbox entry %d" % index)
    return card.store.read_blob(card.state.outbox[index].name)
