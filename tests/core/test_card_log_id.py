"""A card belongs to one log (issue 22, problem 8): it refuses what names another log id, even
when that log's logger signs with the same key, and its store is left unchanged.

Runs on CPython and on MicroPython.
"""

from _cards import World
from _example import derive
from test_wallet_refusals import refused

from purse import proto
from purse.client import CardError
from purse.records.checkpoint import log_id
from purse.records.log import LogRecord
from purse.records.logger import Receipt


def _two_logs():
    """L1 and L2: one key, two databases (two geneses), so two log ids; card A and B on L1."""
    one = World()
    two = World()
    two.log_id = log_id(two.logger.public_key, derive(b"genesis of the second log")[:16])
    assert one.logger.public_key == two.logger.public_key and one.log_id != two.log_id
    return one, two, one.new_card(b"A", 10000), one.new_card(b"B")


def test_a_card_refuses_the_receipt_of_another_log():
    one, two, a, b = _two_logs()
    one.transfer(a, b, 500)
    record = LogRecord.decode(b.client.read_outbox(0))
    # L2's receipt for the very record: genuine signature, same key, another log.
    refused(b, proto.SW_SECURITY, b.client.take_receipt, two.receipt_for(record.encode()))
    assert b.client.info().outbox == 1
    b.client.take_receipt(one.receipt_for(record.encode()))
    assert b.client.info().outbox == 0


def test_a_card_refuses_the_voucher_and_the_stamp_of_another_log():
    one, two, a, _ = _two_logs()
    # The issuer's genuine voucher for A, but naming L2: A's payments would go to L2's ledger.
    refused(a, proto.SW_SECURITY, a.client.load_voucher, two.voucher(a, 700))
    assert a.client.info().balance == 10000
    refused(a, proto.SW_SECURITY, a.client.take_stamp, two.stamp_for(a))
    # L2's ticket neither times the card nor lets it accept.
    refused(a, proto.SW_SECURITY, a.client.take_ticket, two.ticket_for(a.client.get_nonce()))
    # L1's own are taken.
    assert a.client.load_voucher(one.voucher(a, 700)) == 10700
    one.stamp(a)


def test_a_recipient_refuses_a_payer_of_another_log():
    _, two, _, b = _two_logs()
    # A payer provisioned on L2 (same CA, issuer and logger key): its voucher and stamp name
    # L2, whose ledger B's logger does not keep, so B's record could never be logged.
    payer = two.new_card(b"C", 10000)
    challenge = b.client.make_challenge(500)
    payment = payer.client.pay(challenge)
    refused(b, proto.SW_SECURITY, b.client.accept, challenge, payment)
    assert b.client.info().balance == 0 and b.client.info().outbox == 0


def test_the_logger_anchor_comes_with_a_log_id():
    one = World()
    card = one.new_card(b"A")
    assert card.card.state.log_id == one.log_id
    # PkL alone, or with a log id of the wrong size, is refused at provisioning.
    from _cards import TestCard

    fresh = TestCard(one, b"F")
    fresh.client.select()
    fresh.client.generate_key()
    for key in (one.logger.public_key, one.logger.public_key + one.log_id + b"\x00"):
        try:
            fresh.client.install_trust(proto.TRUST_LOGGER, key)
        except CardError as exc:
            assert exc.sw == proto.SW_SECURITY, "%04X" % exc.sw
        else:
            raise AssertionError("INSTALL TRUST took PkL without its log id")
    fresh.client.install_trust(proto.TRUST_LOGGER, one.logger.public_key + one.log_id)
    assert fresh.card.state.log_id == one.log_id


def test_the_log_id_is_signed_into_every_record_of_the_log():
    # A receipt whose log id is changed after signing no longer verifies: the log id is in
    # the signed body, not beside it.
    one, two, a, b = _two_logs()
    one.transfer(a, b, 10)
    record = b.client.read_outbox(0)
    good = Receipt.decode(one.receipt_for(record))
    forged = Receipt(
        good.record_hash, good.recipient_id, good.chall_id, good.leaf_index, good.tree_size,
        good.ltime, two.log_id,
    )  # fmt: skip
    forged.signature = good.signature
    refused(b, proto.SW_SECURITY, b.client.take_receipt, forged.encode())
    # The log id a parsed record names is read from its signed body.
    assert good.log_id == one.log_id and Receipt.decode(forged.encode()).log_id == two.log_id
