"""Two cards through provisioning, value load and transfers, driven only through APDUs.

Every seal mode of paragraph [0017] and both embodiments; balances, outbox, journal and the log
record's fields checked against docs/PROTOCOL.md. Runs on CPython and on MicroPython.
"""

from _cards import START_LTIME, World
from _check import raises

from purse import proto
from purse.client import CardError
from purse.records import fields as f
from purse.records.log import LogRecord
from purse.records.transfer import Challenge, Payment


def _pair():
    world = World()
    return world, world.new_card(b"A", 10000), world.new_card(b"B")


def test_provisioning_locks_the_card():
    world, a, _ = _pair()
    info = a.client.info()
    assert info.state == proto.STATE_READY and info.balance == 10000 and info.issued == 10000
    assert info.card_id == f.card_id(info.public_key) and info.ltime == START_LTIME
    with raises(CardError) as caught:
        a.client.generate_key()
    assert caught.value.sw == proto.SW_LOCKED
    with raises(CardError) as caught:
        a.client.install_trust(proto.TRUST_CA, world.issuer.public_key)
    assert caught.value.sw == proto.SW_LOCKED
    with raises(CardError) as caught:
        a.client.lock()
    assert caught.value.sw == proto.SW_LOCKED


def test_transfers_in_every_mode_and_embodiment():
    world, a, b = _pair()
    a_id, b_id = a.client.info().card_id, b.client.info().card_id
    count = 0
    for mode in proto.SEAL_MODES:
        for with_ticket in (False, True):
            count += 1
            x = 100 + count
            payment = Payment.decode(world.transfer(a, b, x, mode, with_ticket))
            assert payment.x == x and payment.counter == count
            assert payment.certificate.card_id == a_id
            record = LogRecord.decode(b.client.read_outbox(count - 1))
            assert record.recipient_id == b_id and record.payment.x == x
            assert record.payment.counter == count
            assert record.g1() == payment.g1 and record.payment.chall_id == payment.chall_id
            record.verify(world.backend, world.ca.public_key, world.issuer.public_key)
            assert a.client.read_journal(count - 1) == payment.encode()
    paid = sum(100 + i for i in range(1, count + 1))
    info_a, info_b = a.client.info(), b.client.info()
    assert info_a.balance == 10000 - paid and info_b.balance == paid
    assert info_a.counter == count and info_a.journal == count and info_b.outbox == count
    world.ltime += 60
    for record in b.client.outbox():
        b.client.take_receipt(world.receipt_for(record))
    info_b = b.client.info()
    assert info_b.outbox == 0 and info_b.ltime == START_LTIME + 60 and info_b.balance == paid
    for card in (a, b):
        assert not card.leaked(card.card.state.secret)
        assert not card.leaked(card.card.state.seal_key)


def test_a_retried_challenge_is_never_debited_twice():
    _, a, b = _pair()
    challenge = b.client.make_challenge(700)
    first = a.client.pay(challenge)
    again = a.client.pay(challenge)
    assert first == again and a.client.info().balance == 9300
    assert b.client.accept(challenge, first) == (700, 700)
    with raises(CardError) as caught:
        b.client.accept(challenge, again)
    assert caught.value.sw == proto.SW_CHALLENGE_UNKNOWN
    assert b.client.info().balance == 700


def test_identified_mode_shows_the_recipient():
    world, a, b = _pair()
    seen = []
    c = world.new_card(b"C", 500, confirm=lambda x, who: seen.append((x, who)) or True)
    challenge = Challenge.decode(b.client.make_challenge(40, proto.SEAL_SIGNED))
    assert challenge.certificate.card_id == b.client.info().card_id
    c.client.pay(challenge.encode())
    assert seen == [(40, b.client.info().card_id)]
    c.client.pay(a.client.make_challenge(10, proto.SEAL_PLAIN))
    assert seen[-1] == (10, None)


def test_load_voucher_rules():
    world, a, _ = _pair()
    before = a.snapshot()
    for data in (
        a.last_voucher,  # the voucher already loaded: not newer
        world.voucher(a, 5, issuer=world.ca),
        world.voucher(a, 5, public_key=world.new_card(b"D").card.state.public_key),
    ):
        with raises(CardError):
            a.client.load_voucher(data)
    assert a.snapshot() == before
    assert world.load(a, 90000) == 100000
    with raises(CardError) as caught:
        world.load(a, 1)
    assert caught.value.sw == proto.SW_LIMIT
