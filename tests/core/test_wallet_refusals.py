"""Every failed check of a transfer: its status word, and a store left byte for byte unchanged.

Runs on CPython and on MicroPython.
"""

from _cards import WINDOW, World
from _check import raises
from _example import NOT_AFTER, NOT_BEFORE

from purse import proto
from purse.client import CardError
from purse.crypto.backend import Signer
from purse.records.credentials import Certificate, Voucher
from purse.records.log import LogRecord
from purse.records.logger import Receipt
from purse.records.transfer import Challenge, Payment


def refused(card, sw, call, *args):
    """`call(*args)` must be refused with `sw` and leave every stored file as it was."""
    before = card.snapshot()
    with raises(CardError) as caught:
        call(*args)
    assert caught.value.sw == sw, "%04X instead of %04X" % (caught.value.sw, sw)
    assert card.snapshot() == before, "a refused command changed the store"


def _setup(**caps):
    world = World(**caps)
    return world, world.new_card(b"A", 10000), world.new_card(b"B")


def _paid(world, a, b, x=500, mode=proto.SEAL_ENCRYPTED):
    return Payment.decode(a.client.pay(b.client.make_challenge(x, mode)))


def test_bad_signature_certificate_or_voucher():
    world, a, b = _setup()
    rogue = Signer(world.backend, b"\x01" * 32)

    payment = _paid(world, a, b)
    sig = bytearray(payment.signature)
    sig[10] ^= 1
    payment.signature = bytes(sig)
    refused(b, proto.SW_SECURITY, b.accept_raw, payment.encode())

    payment = _paid(world, a, b)
    cert = payment.certificate
    payment.certificate = Certificate(cert.serial, cert.public_key, NOT_BEFORE, NOT_AFTER)
    payment.certificate.sign(rogue)
    refused(b, proto.SW_SECURITY, b.accept_raw, payment.encode())

    payment = _paid(world, a, b)
    voucher = payment.voucher
    payment.voucher = Voucher(voucher.public_key, 10**6, 9, voucher.ltime, voucher.log_id)
    payment.voucher.sign(rogue)
    refused(b, proto.SW_SECURITY, b.accept_raw, payment.encode())

    # A genuine voucher, but of another card: the issuer vouches for B, not for A.
    payment = _paid(world, a, b)
    payment.voucher = Voucher.decode(world.voucher(b, 10**6))
    refused(b, proto.SW_SECURITY, b.accept_raw, payment.encode())


def test_wrong_amount_and_tampered_ec():
    world, a, b = _setup()
    challenge = Challenge.decode(b.client.make_challenge(500))
    # A payment with a valid S over another amount (signed with A's key, read out of the
    # emulated card): S, CertT and VoucherI check out, x does not match the challenge.
    forged = Payment.answering(
        challenge, 1, a.card.certificate(), a.card.voucher(), a.card.stamp()
    )
    forged.x = 5
    forged.sign(Signer(world.backend, a.card.state.secret))
    refused(b, proto.SW_SECURITY, b.accept_raw, forged.encode())

    genuine = Payment.decode(a.client.pay(challenge.encode()))
    sealed = bytearray(genuine.sealed)
    sealed[3] ^= 0x40
    genuine.sealed = bytes(sealed)
    refused(b, proto.SW_SECURITY, b.accept_raw, genuine.encode())

    for mode in (proto.SEAL_HASHED, proto.SEAL_PLAIN):
        payment = _paid(world, a, b, 300, mode)
        payment.sealed = bytes(32) if mode == proto.SEAL_HASHED else bytes(60)
        refused(b, proto.SW_SECURITY, b.accept_raw, payment.encode())


def test_unknown_expired_and_replayed_challenges():
    world, a, b = _setup()
    c = world.new_card(b"C")
    foreign_challenge = c.client.make_challenge(100)
    foreign = a.client.pay(foreign_challenge)
    refused(b, proto.SW_CHALLENGE_UNKNOWN, b.client.accept, foreign_challenge, foreign)

    first = b.client.make_challenge(100)
    for _ in range(proto.PENDING_MAX):
        b.client.make_challenge(1)
    refused(b, proto.SW_CHALLENGE_UNKNOWN, b.client.accept, first, a.client.pay(first))

    challenge = b.client.make_challenge(100)
    payment = a.client.pay(challenge)
    b.client.accept(challenge, payment)
    refused(b, proto.SW_CHALLENGE_UNKNOWN, b.client.accept, challenge, payment)


def test_funds_and_limits():
    world, a, b = _setup(balance_cap=12000, payment_cap=6000, unlogged_cap=7000)
    # A recipient makes no challenge over the payment cap; a payer answers none either (the
    # challenge here comes from a card whose own cap is higher).
    refused(b, proto.SW_LIMIT, b.client.make_challenge, 6001)
    wide = world.new_card(b"W", risk=World(payment_cap=20000).risk)
    refused(a, proto.SW_LIMIT, a.client.pay, wide.client.make_challenge(6001))
    world.transfer(a, b, 6000)
    refused(a, proto.SW_FUNDS, a.client.pay, b.client.make_challenge(4001))
    # Unlogged credit: B already holds 6000 without a receipt; 1001 more passes 7000.
    challenge = b.client.make_challenge(1001)
    refused(b, proto.SW_LIMIT, b.client.accept, challenge, a.client.pay(challenge))
    for record in b.client.outbox():
        b.client.take_receipt(world.receipt_for(record))
    # Balance cap: B holds 6000; a load of 5500 leaves room for 500 only.
    pending = b.client.make_challenge(1000)
    world.load(b, 5500)
    refused(b, proto.SW_LIMIT, b.client.accept, pending, a.client.pay(pending))
    refused(b, proto.SW_LIMIT, b.client.make_challenge, 501)


def test_revoked_payer_and_recipient():
    world, a, b = _setup()
    a_id, b_id = a.client.info().card_id, b.client.info().card_id
    b.client.install_revocation(world.revocation([a_id]))
    challenge = b.client.make_challenge(10)
    refused(b, proto.SW_REVOKED, b.client.accept, challenge, a.client.pay(challenge))
    a.client.install_revocation(world.revocation([b_id]))
    refused(a, proto.SW_REVOKED, a.client.pay, b.client.make_challenge(10, proto.SEAL_SIGNED))
    # An older list does not replace a newer one.
    refused(a, proto.SW_WRONG_STATE, a.client.install_revocation, world.revocation([], 1))


def test_tickets():
    world, a, b = _setup()
    challenge = b.client.make_challenge(10, needs_ticket=True)
    payment = a.client.pay(challenge)
    refused(b, proto.SW_TICKET, b.client.accept, challenge, payment)
    nonce = b.client.get_nonce()
    refused(b, proto.SW_TICKET, b.client.accept, challenge, payment, world.ticket_for(bytes(16)))
    stale = world.ticket_for(nonce, world.ltime - WINDOW - 1)
    refused(b, proto.SW_TICKET, b.client.accept, challenge, payment, stale)
    forged = Receipt(bytes(32), bytes(8), bytes(8), 0, 1, 0, world.log_id)
    forged = forged.sign(world.logger).encode()
    refused(
        b,
        proto.SW_SECURITY,
        b.client.accept,
        challenge,
        payment,
        forged[:0] + world.ticket_for(nonce, world.ltime)[:-1] + b"\x00",
    )
    assert b.client.accept(challenge, payment, world.ticket_for(nonce)) == (10, 10)
    # A ticket is good for one acceptance: its nonce is used up.
    challenge = b.client.make_challenge(10, needs_ticket=True)
    payment = a.client.pay(challenge)
    refused(b, proto.SW_TICKET, b.client.accept, challenge, payment, world.ticket_for(nonce))


def test_receipts_must_match_and_verify():
    world, a, b = _setup()
    world.transfer(a, b, 10)
    record = LogRecord.decode(b.client.read_outbox(0))
    log_id = world.log_id
    other = Receipt(record.hash(), record.recipient_id, bytes(8), 0, 1, world.ltime, log_id)
    refused(b, proto.SW_NO_MATCH, b.client.take_receipt, other.sign(world.logger).encode())
    elsewhere = Receipt(
        record.hash(), bytes(8), record.payment.chall_id, 0, 1, world.ltime, log_id
    )
    refused(b, proto.SW_NO_MATCH, b.client.take_receipt, elsewhere.sign(world.logger).encode())
    good = Receipt(
        record.hash(), record.recipient_id, record.payment.chall_id, 0, 1, world.ltime, log_id
    )
    refused(b, proto.SW_SECURITY, b.client.take_receipt, good.sign(world.issuer).encode())
    refused(b, proto.SW_NO_MATCH, b.client.read_outbox, 1)
    # L's receipt for another record of the same challenge (and, L checks, the same amount:
    # the payer signed the challenge twice) credits B just the same (PROTOCOL.md 7.1).
    same_challenge = Receipt(
        bytes(32), record.recipient_id, record.payment.chall_id, 0, 1, world.ltime, log_id
    )
    b.client.take_receipt(same_challenge.sign(world.logger).encode())
    refused(b, proto.SW_NO_MATCH, b.client.take_receipt, good.sign(world.logger).encode())


def test_settlement_window():
    world, a, b = _setup()
    world.transfer(a, b, 100)
    # B learns a newer L-time: its unreceipted log is now older than the window.
    b.client.take_ticket(world.ticket_for(b.client.get_nonce(), world.ltime + WINDOW + 1))
    refused(b, proto.SW_MUST_SYNC, b.client.make_challenge, 10)
    refused(b, proto.SW_MUST_SYNC, b.client.pay, a.client.make_challenge(10))
    challenge = b.card  # B still answers GET INFO and hands out its outbox for syncing.
    assert challenge.state.outbox and b.client.read_outbox(0)
    for record in b.client.outbox():
        b.client.take_receipt(world.receipt_for(record, world.ltime + WINDOW + 1))
    # Its stamp is now older than the window too: recipients would refuse it.
    refused(b, proto.SW_MUST_SYNC, b.client.pay, a.client.make_challenge(10))
    world.stamp(b, ltime=world.ltime + WINDOW + 1)
    b.client.pay(a.client.make_challenge(10))


def test_declined_and_order():
    world = World()
    a = world.new_card(b"A", 1000, confirm=lambda x, who: False)
    b = world.new_card(b"B")
    refused(a, proto.SW_DECLINED, a.client.pay, b.client.make_challenge(10))
    fresh = world.new_card(b"F")
    fresh.applet.reset()
    refused(fresh, proto.SW_WRONG_STATE, fresh.client.info)
    fresh.client.select()
    refused(fresh, proto.SW_WRONG_P1P2, fresh.client.command, "X", proto.INS_LOCK, 1, 0)
    refused(fresh, proto.SW_INS_UNSUPPORTED, fresh.client.command, "X", 0x30)
    refused(fresh, proto.SW_CLA_UNSUPPORTED, fresh.client.command, "X", proto.INS_SELECT)
    refused(fresh, proto.SW_WRONG_DATA, fresh.client.command, "X", proto.INS_MAKE_CHALLENGE, 1)
