"""Attacks of issue 20 against the money rules, played with the project's own parts: the
firmware's Card and Applet behind CardClient, the terminal, and the logger service on SQLite
and PostgreSQL (tests/host/logger_fixtures.py). Each test is the attack as the review found it
working; it must be refused, and no honest card may be credited less than it took nor named
in an overspend alert.
"""

import pytest
from _example import NOT_AFTER, NOT_BEFORE
from logger_fixtures import WINDOW

from icpurse.logger import REFUND_DELAY_MIN
from icpurse.logger.client import LoggerError
from icpurse.logger.service.journals import payment_key
from icpurse.terminal import TransferInDoubt, transfer
from purse import proto
from purse.client import CardError
from purse.crypto.backend import Signer
from purse.crypto.pure import PureBackend
from purse.records.log import LogRecord
from purse.records.transfer import Payment


def _refund(w, card, payment):
    """The issuer's refund of `payment` to its payer, as `icpurse reconcile` sends it."""
    pay = Payment.decode(payment)
    voucher = w.voucher(card, pay.x)
    w.client.publish_voucher(voucher, "refund", payment_key(pay))
    key = card.card.state.public_key
    issued, sequence = w.issued.get(key, (0, 0))
    w.issued[key] = (issued + pay.x, sequence + 1)
    return voucher


def _overspenders(w):
    return {entry["card_id"] for entry in w.client.alerts()["overspend"]}


def test_attack_1_a_revoked_card_is_never_refunded_for_spending_after_closure(logger_world):
    w = logger_world
    v, d = w.new_card(b"V", 3000), w.new_card(b"D")
    v_id = v.client.info().card_id
    w.client.publish_revocation(w.revocation([v_id], sequence=1))
    w.advance(WINDOW + 1)  # V is closed: its settlement window has passed.
    # V was not destroyed; D never got the list and accepts V's payment offline.
    challenge = d.client.make_challenge(1000)
    payment = v.client.pay(challenge)
    d.client.accept(challenge, payment)
    report = w.client.sync(d.client)
    # D followed the rules (V's stamp was fresh at D's L-time): it is credited, the issuer
    # bears what V spent, and the evidence names V (section 7.3).
    assert report.receipted == 1 and report.refused == []
    assert [e["kind"] for e in w.client.alerts()["evidence"]] == ["revoked-payer"]
    assert _overspenders(w) == set()
    # V uploads its journal and waits: the payment is not in doubt, and no refund goes through.
    w.client.upload_journal([payment])
    w.advance(max(WINDOW, REFUND_DELAY_MIN) + 1)
    assert [p for p in w.client.in_doubt(v_id) if p["due"]] == []
    with pytest.raises(LoggerError) as refused:
        _refund(w, v, payment)
    assert refused.value.status == 409


def test_attack_2_a_substituted_payment_is_not_credited_at_a_tap(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 5000), w.new_card(b"B")
    withheld = a.client.pay(b.client.make_challenge(1))

    class Substituting:
        """A payer whose card answers today's challenge with an older payment."""

        def pay(self, challenge):
            a.client.pay(challenge)  # It signs today's payment too, and keeps it.
            return withheld

    with pytest.raises(TransferInDoubt, match="does not answer the challenge"):
        transfer(Substituting(), b.client, 500)
    assert b.client.info().balance == 0
    # An honest transfer reports what the recipient's card credited.
    outcome = transfer(a.client, b.client, 500)
    assert outcome.credited == 500 and b.client.info().balance == 500


def test_attack_3_a_withheld_payment_is_refunded_or_credited_never_both(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 1000), w.new_card(b"B")
    challenge = b.client.make_challenge(300)
    withheld = a.client.pay(challenge)
    # The relay uploads the payment itself, which starts the refund clock...
    w.client.upload_journal([withheld])
    with pytest.raises(LoggerError) as early:
        _refund(w, a, withheld)
    assert early.value.status == 425
    w.advance(max(WINDOW, REFUND_DELAY_MIN) + 1)
    _refund(w, a, withheld)
    w.client.sync(a.client)
    assert a.client.info().balance == 1000
    # ...and delivers it to the recipient once the refund went through: the challenge is dead
    # by then (as much time passed on the recipient's running clock).
    b.ms += proto.CHALLENGE_TTL_MS + 1
    with pytest.raises(CardError) as late:
        b.client.accept(challenge, withheld)
    assert late.value.sw == proto.SW_CHALLENGE_UNKNOWN
    assert a.client.info().balance + b.client.info().balance == 1000


def test_attack_4_counter_reuse_blames_the_cloner_not_the_recipient(logger_world):
    w = logger_world
    a = w.new_card(b"A", 1000)
    b, c, d = w.new_card(b"B"), w.new_card(b"C"), w.new_card(b"D")
    clone = w.new_card(b"A2")
    clone.memory.files.clear()
    clone.memory.files.update(a.memory.files)
    clone.power_cycle()
    w.transfer(a, b, 800)
    w.transfer(clone, c, 800)  # The same counter, signed with the same key.
    for card in (b, c):
        assert w.client.sync(card.client).receipted == 1
    # C, honest, spends what it received within its window.
    w.transfer(c, d, 800)
    w.client.sync(d.client)
    w.client.sync(c.client)
    a_id = a.client.info().card_id.hex()
    # The honest recipient is never named; the evidence names the cloned card's key.
    assert c.client.info().card_id.hex() not in _overspenders(w)
    evidence = w.client.alerts()["evidence"]
    assert [(e["kind"], e["payer_id"]) for e in evidence] == [("counter-reuse", a_id)]
    assert w.client.card(c.client.info().card_id)["balance"] == 0


def test_attack_4_a_payer_proven_cloned_is_never_refunded(logger_world):
    w = logger_world
    a, b, c = w.new_card(b"A", 1000), w.new_card(b"B"), w.new_card(b"C")
    clone = w.new_card(b"A2")
    clone.memory.files.clear()
    clone.memory.files.update(a.memory.files)
    clone.power_cycle()
    torn = a.client.pay(b.client.make_challenge(800))  # B never gets it: in doubt.
    w.client.upload_journal([torn])
    w.transfer(clone, c, 800)  # The copy signs the same counter; C is credited.
    assert w.client.sync(c.client).receipted == 1
    w.advance(max(WINDOW, REFUND_DELAY_MIN) + 1)
    a_id = a.client.info().card_id
    assert [p["due"] for p in w.client.in_doubt(a_id)] == [False]
    with pytest.raises(LoggerError) as refused:
        _refund(w, a, torn)
    assert refused.value.status == 409 and "reused a payer counter" in str(refused.value)


def test_attack_6_a_bystander_variant_cannot_brick_the_recipient(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 1000), w.new_card(b"B")
    w.transfer(a, b, 250)
    # A bystander reads B's outbox, changes what no signature covers, and submits it first.
    variant = LogRecord.decode(b.client.read_outbox(0))
    variant.rtt = 999999
    w.client.submit(variant.encode())
    report = w.client.sync(b.client)
    assert report.receipted == 1 and report.refused == []
    assert b.client.info().outbox == 0
    assert w.client.card(b.client.info().card_id)["balance"] == 250
    assert w.client.alerts()["evidence"] == []


def test_attack_1_a_revoked_card_is_never_refunded_even_with_no_record_seen(logger_world):
    # The same attack where the recipient never syncs: the logger has no record to keep as
    # evidence, and the payment looks in doubt. A revoked payer is still never refunded: its
    # payments settle at its recovery, into its balance statement.
    w = logger_world
    v, d = w.new_card(b"V", 3000), w.new_card(b"D")
    v_id = v.client.info().card_id
    w.client.publish_revocation(w.revocation([v_id], sequence=1))
    w.advance(WINDOW + 1)
    challenge = d.client.make_challenge(1000)
    payment = v.client.pay(challenge)
    d.client.accept(challenge, payment)
    w.client.upload_journal([payment])
    w.advance(max(WINDOW, REFUND_DELAY_MIN) + 1)
    assert [p["due"] for p in w.client.in_doubt(v_id)] == [False]
    with pytest.raises(LoggerError) as refused:
        _refund(w, v, payment)
    assert refused.value.status == 409 and "revoked" in refused.value.reason


def test_attack_5_the_logger_stamps_only_a_card_in_good_standing_with_its_journal(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 1000), w.new_card(b"B")
    a_id = a.client.info().card_id
    torn = a.client.pay(b.client.make_challenge(10))  # B never hears back.
    # A stamp for counter 1 needs the payment in the logger's hands first.
    with pytest.raises(LoggerError) as missing:
        w.client.stamp(a_id, 1)
    assert missing.value.status == 409 and "upload its journal" in missing.value.reason
    w.client.upload_journal([torn])
    a.client.take_stamp(w.client.stamp(a_id, 1))
    assert a.client.info().journal == 0
    with pytest.raises(LoggerError) as older:
        w.client.stamp(a_id, 0)
    assert older.value.status == 409
    # A revoked card gets no stamp; its sync says so and the card keeps its old one.
    w.client.publish_revocation(w.revocation([a_id], sequence=1))
    with pytest.raises(LoggerError) as revoked:
        w.client.stamp(a_id, 1)
    assert revoked.value.status == 403
    report = w.client.sync(a.client)
    assert not report.stamped and "revoked" in report.stamp_refused


def test_a_stamp_a_stranger_asks_for_gets_no_honest_card_named(logger_world):
    w = logger_world
    a, b, c = w.new_card(b"A", 1000), w.new_card(b"B"), w.new_card(b"C")
    w.transfer(a, b, 500)  # B's credit waits in its outbox, as the rules allow.
    paid = w.transfer(b, c, 500)  # B spends it.
    # A stranger who saw B's payment uploads it and asks L for B's stamp, which L signs (it
    # holds B's payments up to that counter); B never takes it.
    w.client.upload_journal([paid])
    w.client.stamp(b.client.info().card_id, 1)
    w.client.sync(c.client)
    assert b.client.info().card_id.hex() not in _overspenders(w)


def test_attack_8_the_logger_refuses_a_payer_whose_certificate_ended(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 1000), w.new_card(b"B")
    w.transfer(a, b, 100)
    w.transfer(a, b, 200)
    # Up to a window after the certificate's end, a record still counts (its recipient took it
    # while the certificate was valid)...
    w.client.submit(b.client.read_outbox(0))
    # ...later, not: a card cannot spend on a certificate long expired.
    w.advance(NOT_AFTER - w.service.ltime() + WINDOW + 1)
    with pytest.raises(LoggerError) as refused:
        w.client.submit(b.client.read_outbox(1))
    assert refused.value.status == 403 and "certificate is not valid" in refused.value.reason


def test_attack_8_the_ca_revokes_ten_thousand_cards_over_the_systems_life(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from icpurse.authority import AuthorityError
    from icpurse.authority.ca import KEEP, CertificationAuthority

    CertificationAuthority.init(tmp_path / "ca")
    ca = CertificationAuthority.open(tmp_path / "ca")
    ids = []
    for _ in range(10011):
        key = (
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        )
        ids.append(ca.certify(key, NOT_BEFORE, NOT_AFTER).card_id)
    ltime = NOT_BEFORE
    longest = 0
    for start in range(0, 10000, 40):
        rl = ca.revoke(ids[start : start + 40], ltime)
        longest = max(longest, len(rl.revoked))
        ltime += KEEP // 2
    assert rl.sequence == 250 and longest == 80 <= proto.MAX_REVOKED
    # A list names only what was revoked in the last KEEP seconds: here the last two batches.
    assert set(rl.revoked) == set(ids[9920:10000])
    # More than a list holds within KEEP is refused, with the reason: 80 + 11 > 90.
    with pytest.raises(AuthorityError, match="revoked in the last 14 days"):
        ca.revoke(ids[10000:], ltime - KEEP // 2)


# --- a payer with modified firmware: what its own key signs ----------------------------------


def _resigned(card, payment, counter=None, x=None):
    """`payment` signed again by its payer's own key with another counter or amount, as
    modified firmware signs (nothing journalled, nothing debited)."""
    pay = Payment.decode(payment)
    pay.counter = pay.counter if counter is None else counter
    pay.x = pay.x if x is None else x
    pay.sign(Signer(PureBackend(), card.card.state.secret))
    return pay.encode()


def _record_with(record, payment):
    """The recipient's record (which shows R1) carrying another signature of its challenge,
    as a bystander who read the recipient's outbox makes it."""
    rec = LogRecord.decode(record)
    pay = Payment.decode(payment)
    rec.payment.x, rec.payment.counter, rec.payment.signature = pay.x, pay.counter, pay.signature
    return rec.encode()


def test_modified_payer_signing_other_amounts_cannot_brick_an_honest_recipient(logger_world):
    w = logger_world
    p, b, c = w.new_card(b"P", 5000), w.new_card(b"B"), w.new_card(b"C")
    challenge = b.client.make_challenge(1000)
    real = p.client.pay(challenge)
    b.client.accept(challenge, real)
    # P signs B's challenge again for 1 (another counter) and for 2 (the same counter), and a
    # bystander who read B's outbox puts them into B's record and submits them first: B's
    # signature covers the payment it accepted, so both are refused and nothing is stored.
    mine = b.client.read_outbox(0)
    for variant in (_resigned(p, real, counter=77, x=1), _resigned(p, real, x=2)):
        with pytest.raises(LoggerError) as refused:
            w.client.submit(_record_with(mine, variant))
        assert refused.value.status == 422
    assert w.service.tree_size() == 0
    # B's own record is credited; B trades on and is never named.
    assert w.client.sync(b.client).receipted == 1 and b.client.info().outbox == 0
    b_id = b.client.info().card_id
    assert w.client.card(b_id)["balance"] == 1000
    w.transfer(b, c, 900)
    w.client.sync(c.client)
    w.client.sync(b.client)
    assert b_id.hex() not in _overspenders(w)


def test_modified_payer_is_not_refunded_a_payment_its_recipient_was_credited(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 1000), w.new_card(b"B")
    a_id = a.client.info().card_id
    challenge = b.client.make_challenge(1000)
    payment = a.client.pay(challenge)
    b.client.accept(challenge, payment)
    # A signs the challenge again with a counter it never journals, and B's holder tries to
    # log that one first: B's signature is for the payment B accepted, so it is refused.
    ghost = _resigned(a, payment, counter=0xFFFFFFF0)
    with pytest.raises(LoggerError) as refused:
        w.client.submit(_record_with(b.client.read_outbox(0), ghost))
    assert refused.value.status == 422
    assert w.client.sync(b.client).receipted == 1
    w.client.sync(a.client)
    w.advance(max(WINDOW, REFUND_DELAY_MIN) + 1)
    # The payment B credited is logged: it is not in doubt, and no refund goes through.
    assert w.client.in_doubt(a_id) == []
    with pytest.raises(LoggerError) as refused:
        _refund(w, a, payment)
    assert refused.value.status == 409


def test_a_payer_cannot_log_a_record_no_recipient_card_accepted(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 1000), w.new_card(b"B")
    base = w.transfer(a, b, 1)
    w.client.sync(b.client)
    # A (modified firmware, its own key) makes a record up alone: it picks R1, G2 and ChallID
    # for B's id. Without B's card it can sign the record only with its own key, which the
    # record's recipient certificate does not name.
    pay = Payment.decode(base)
    r1 = bytes(16)
    pay.g1, pay.chall_id, pay.counter, pay.x = (
        LogRecord(b.client.info().card_id, r1).g1(),
        b"FAKE0001",
        2,
        50000,
    )
    pay.body = None
    pay.sign(Signer(PureBackend(), a.card.state.secret))
    made_up = LogRecord(b.client.info().card_id, r1, pay)
    made_up.sign(Signer(PureBackend(), a.card.state.secret), a.card.certificate())
    with pytest.raises(LoggerError) as refused:
        w.client.submit(made_up.encode())
    assert refused.value.status == 422 and "another card" in str(refused.value)
    assert w.client.card(b.client.info().card_id)["balance"] == 1
