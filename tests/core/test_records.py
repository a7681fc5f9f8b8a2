"""Records: round trips, verification by the right authority, and every malformed variant.

The records come from the worked example of docs/PROTOCOL.md (tests/core/_example.py).
"""

from _check import raises
from _example import Example

from purse import proto, tlv
from purse.crypto import der, ecdsa, encoding
from purse.errors import CredentialError, InvalidSignature, RecordError
from purse.records import fields as f
from purse.records.credentials import Certificate, RevocationList, RiskParameters, Voucher
from purse.records.log import LogRecord
from purse.records.logger import Receipt, Ticket
from purse.records.transfer import Challenge, Payment

EX = Example()


def _signed_cases():
    """(class, record, the public key that must verify it, a key that must not)."""
    return (
        (Certificate, EX.cert_a, EX.ca.public_key, EX.issuer.public_key),
        (Certificate, EX.cert_b, EX.ca.public_key, EX.card_b.public_key),
        (Voucher, EX.voucher_a, EX.issuer.public_key, EX.ca.public_key),
        (RiskParameters, EX.risk, EX.issuer.public_key, EX.logger.public_key),
        (RevocationList, EX.revocation, EX.ca.public_key, EX.issuer.public_key),
        (Ticket, EX.ticket, EX.logger.public_key, EX.ca.public_key),
        (Receipt, EX.receipt, EX.logger.public_key, EX.issuer.public_key),
        (Payment, EX.payment, EX.card_a.public_key, EX.card_b.public_key),
    )


def _rebuild(data, edit_body=None, edit_outer=None):
    """Re-encode a signed record after editing its body items or its outer items."""
    tag, value = tlv.decode_one(data)
    outer = [(t, bytes(v)) for t, v in tlv.decode_all(value)]
    if edit_body is not None:
        body = [(t, bytes(v)) for t, v in tlv.decode_all(outer[0][1])]
        outer[0] = (proto.TAG_SIGNED, tlv.encode_all(edit_body(body)))
    if edit_outer is not None:
        outer = edit_outer(outer)
    return tlv.encode(tag, tlv.encode_all(outer))


def _replace(items, tag, value):
    return [(t, value if t == tag else v) for t, v in items]


def test_signed_records_round_trip_and_verify():
    for cls, record, good, _ in _signed_cases():
        data = record.encode()
        again = cls.decode(data)
        assert again.encode() == data
        assert again.signed_bytes() == record.signed_bytes()
        again.verify(EX.backend, good)


def test_signature_by_the_wrong_authority_is_rejected():
    for cls, record, _, wrong in _signed_cases():
        with raises(InvalidSignature):
            cls.decode(record.encode()).verify(EX.backend, wrong)


def test_truncated_and_extended_records_are_rejected():
    for cls, record, _, _ in _signed_cases():
        data = record.encode()
        for cut in (1, 2, 10, len(data) - 1):
            with raises(RecordError):
                cls.decode(data[: len(data) - cut])
        with raises(RecordError):
            cls.decode(data + b"\x00")
        with raises(RecordError):
            cls.decode(data + b"\x84\x00")
        # An extra field inside the value is refused too, not ignored.
        with raises(RecordError):
            cls.decode(_rebuild(data, edit_outer=lambda o: o + [(0x9F20, b"")]))


def test_wrong_record_tag_is_rejected():
    for cls, record, _, _ in _signed_cases():
        data = bytearray(record.encode())
        data[0] = proto.TAG_RECEIPT if cls is not Receipt else proto.TAG_TICKET
        with raises(RecordError):
            cls.decode(bytes(data))
    with raises(RecordError):
        Voucher.decode(EX.cert_a.encode())


def test_wrong_version_is_rejected():
    newer = bytes((proto.VERSION + 1,))
    for cls, record, _, _ in _signed_cases():
        bad = _rebuild(record.encode(), lambda b: _replace(b, proto.TAG_VERSION, newer))
        with raises(RecordError, "version"):
            cls.decode(bad)


def test_wrong_domain_is_rejected():
    for cls, record, _, _ in _signed_cases():
        bad = _rebuild(record.encode(), lambda b: _replace(b, proto.TAG_DOMAIN, b"icpurse/other"))
        with raises(RecordError, "domain"):
            cls.decode(bad)
    # A certificate's body presented as a voucher's: the domain tells them apart.
    body_swapped = _rebuild(
        EX.voucher_a.encode(),
        edit_outer=lambda o: (
            [(proto.TAG_SIGNED, tlv.decode_all(EX.cert_a.encode())[0][1])] + o[1:]
        ),
    )
    with raises(RecordError):
        Voucher.decode(body_swapped)


def test_high_s_signature_is_rejected():
    for cls, record, good, _ in _signed_cases():
        r, s = encoding.decode_raw(record.signature)
        high = encoding.encode_raw(r, ecdsa.N - s)
        # The high-s twin is a valid ECDSA signature; only the records' low-s rule refuses it.
        EX.backend.verify(good, record.signed_bytes(), high)
        bad = cls.decode(
            _rebuild(record.encode(), edit_outer=lambda o, h=high: _replace(o, 0x84, h))
        )
        with raises(InvalidSignature, "low half"):
            bad.verify(EX.backend, good)


def test_der_signature_is_rejected():
    for cls, record, _, _ in _signed_cases():
        der_sig = der.encode_der(*encoding.decode_raw(record.signature))
        bad = _rebuild(record.encode(), edit_outer=lambda o, d=der_sig: _replace(o, 0x84, d))
        with raises(RecordError):
            cls.decode(bad)


def test_uncompressed_key_is_rejected():
    x, y = encoding.decode_point(EX.card_a.public_key)
    long_key = encoding.encode_point(x, y, False)
    for cls, record in ((Certificate, EX.cert_a), (Voucher, EX.voucher_a)):
        bad = _rebuild(record.encode(), lambda b: _replace(b, proto.TAG_PUBLIC_KEY, long_key))
        with raises(RecordError):
            cls.decode(bad)
    with raises(RecordError, "compressed"):
        Certificate(1, long_key, 0, 1)
    with raises(RecordError, "compressed"):
        Voucher(b"\x04" + long_key[1:33], 1, 1, 1)


def test_certificate_card_id_must_match_key():
    other = f.card_id(EX.card_b.public_key)
    bad = _rebuild(EX.cert_a.encode(), lambda b: _replace(b, proto.TAG_CARD_ID, other))
    with raises(RecordError, "card id"):
        Certificate.decode(bad)
    assert EX.cert_a.card_id == f.card_id(EX.card_a.public_key)
    assert EX.cert_a.valid_at(EX.cert_a.not_before) and EX.cert_a.valid_at(EX.cert_a.not_after)
    assert not EX.cert_a.valid_at(EX.cert_a.not_after + 1)


def test_field_sizes_and_ranges():
    with raises(RecordError):
        f.u32(1 << 32)
    with raises(RecordError):
        f.u64(-1)
    with raises(RecordError):
        f.amount(0)
    with raises(RecordError):
        f.amount(proto.MAX_AMOUNT + 1)
    assert f.u64(proto.MAX_ISSUED) == b"\xff" * 8
    with raises(RecordError, "ends before"):
        Certificate(1, EX.card_a.public_key, 10, 9)


def test_revocation_list_order_and_bound():
    ids = [bytes([i]) * 8 for i in (3, 1, 2)]
    rl = RevocationList(2, 5, ids).sign(EX.ca)
    again = RevocationList.decode(rl.encode())
    assert again.revoked == sorted(ids) and again.is_revoked(ids[0])
    assert not again.is_revoked(b"\x09" * 8)
    unsorted = _rebuild(
        rl.encode(),
        lambda b: b[:4] + [(proto.TAG_CARD_ID, ids[0]), (proto.TAG_CARD_ID, ids[1])],
    )
    with raises(RecordError, "ascending"):
        RevocationList.decode(unsorted)
    with raises(RecordError, "more than"):
        RevocationList(1, 1, [i.to_bytes(8, "big") for i in range(proto.MAX_REVOKED + 1)])
    assert RevocationList.decode(EX.revocation.encode()).revoked == []


def test_challenge_modes():
    again = Challenge.decode(EX.challenge.encode())
    assert again.encode() == EX.challenge.encode()
    assert again.mode == proto.SEAL_ENCRYPTED and len(again.sealed) == 60
    assert again.signature is None and again.certificate is None
    hashed = Challenge(proto.SEAL_HASHED, EX.challenge.g1, EX.challenge.g2, bytes(32), 5, bytes(8))
    assert Challenge.decode(hashed.encode()).sealed == bytes(32)
    plain = Challenge(proto.SEAL_PLAIN, EX.challenge.g1, EX.challenge.g2, None, 5, bytes(8))
    assert Challenge.decode(plain.encode()).sealed is None
    signed = Challenge(proto.SEAL_SIGNED, EX.challenge.g1, EX.challenge.g2, None, 5, bytes(8))
    signed.certificate = EX.cert_b
    signed.sign(EX.card_b)
    parsed = Challenge.decode(signed.encode())
    assert parsed.verify_identified(EX.backend, EX.ca.public_key).card_id == EX.cert_b.card_id
    with raises(InvalidSignature):
        parsed.verify_identified(EX.backend, EX.issuer.public_key)
    with raises(CredentialError):
        parsed.verify_identified(EX.backend, EX.ca.public_key, EX.cert_b.not_after + 1)
    # A challenge signed by someone else than the card its certificate names.
    forged = Challenge(proto.SEAL_SIGNED, EX.challenge.g1, EX.challenge.g2, None, 5, bytes(8))
    forged.certificate = EX.cert_b
    forged.sign(EX.card_a)
    with raises(InvalidSignature):
        Challenge.decode(forged.encode()).verify_identified(EX.backend, EX.ca.public_key)


def test_challenge_mode_rules():
    g1, g2 = EX.challenge.g1, EX.challenge.g2
    with raises(RecordError, "seal mode"):
        Challenge(9, g1, g2, None, 5, bytes(8)).encode()
    with raises(RecordError, "eC"):
        Challenge(proto.SEAL_ENCRYPTED, g1, g2, bytes(32), 5, bytes(8)).encode()
    with raises(RecordError, "eC"):
        Challenge(proto.SEAL_PLAIN, g1, g2, bytes(32), 5, bytes(8)).encode()
    with raises(RecordError, "CertT"):
        Challenge(proto.SEAL_SIGNED, g1, g2, None, 5, bytes(8)).encode()
    unsigned_with_sig = _rebuild(
        EX.challenge.encode(), edit_outer=lambda o: o + [(proto.TAG_SIGNATURE, bytes(64))]
    )
    with raises(RecordError, "signature"):
        Challenge.decode(unsigned_with_sig)


def test_payment_chain_and_identity():
    pay = Payment.decode(EX.payment.encode())
    pay.verify_chain(EX.backend, EX.ca.public_key, EX.issuer.public_key, EX.cert_a.not_before)
    assert pay.identity() == (EX.card_a.public_key, EX.chall_id, EX.challenge.g1)
    assert pay.answers(EX.challenge) and pay.counter == 1 and pay.x == EX.x
    with raises(InvalidSignature):
        pay.verify_chain(EX.backend, EX.issuer.public_key, EX.issuer.public_key)
    with raises(InvalidSignature):
        pay.verify_chain(EX.backend, EX.ca.public_key, EX.ca.public_key)
    with raises(CredentialError):
        pay.verify_chain(EX.backend, EX.ca.public_key, EX.issuer.public_key, 1)
    # A genuine voucher of card B attached to card A's payment.
    foreign = Voucher(EX.card_b.public_key, 10000, 1, 1, EX.log_id).sign(EX.issuer)
    pay.voucher = foreign
    with raises(CredentialError, "another card"):
        Payment.decode(pay.encode()).verify_chain(
            EX.backend, EX.ca.public_key, EX.issuer.public_key
        )


def test_payment_signature_covers_every_field():
    for field, value in (
        (proto.TAG_AMOUNT, f.u32(EX.x + 1)),
        (proto.TAG_G1, bytes(32)),
        (proto.TAG_G2, bytes(32)),
        (proto.TAG_CHALL_ID, bytes(8)),
        (proto.TAG_COUNTER, f.u32(2)),
    ):
        bad = Payment.decode(
            _rebuild(EX.payment.encode(), lambda b, t=field, v=value: _replace(b, t, v))
        )
        with raises(InvalidSignature):
            bad.verify_chain(EX.backend, EX.ca.public_key, EX.issuer.public_key)


def test_log_record_round_trip_and_check():
    data = EX.log_record.encode()
    rec = LogRecord.decode(data)
    assert rec.encode() == data and rec.hash() == EX.log_record.hash()
    rec.verify(EX.backend, EX.ca.public_key, EX.issuer.public_key)
    assert rec.identity() == EX.payment.identity()
    assert EX.receipt.matches(rec)
    # H(record) leaves out what a third party can change: the RTT, and which of the payer's
    # vouchers the record shows. A record that differs only there is the same record.
    rec.rtt = 48000
    timed = LogRecord.decode(rec.encode())
    assert timed.rtt == 48000 and timed.hash() == EX.log_record.hash()
    assert EX.receipt.matches(timed)
    # Another recipient id changes G1, which S covers: L refuses the record.
    moved = LogRecord(f.card_id(EX.card_a.public_key), EX.r1, rec.payment)
    moved.sign(EX.card_a, EX.cert_a)
    with raises(InvalidSignature):
        LogRecord.decode(moved.encode()).verify(EX.backend, EX.ca.public_key, EX.issuer.public_key)
    # B's signature binds the record to the card that accepted it: signed by another card, or
    # by a key its certificate does not name, or changed after B signed, it is refused.
    other = LogRecord.decode(data)
    other.sign(EX.card_a, EX.cert_a)
    with raises(CredentialError, "another card"):
        LogRecord.decode(other.encode()).verify(EX.backend, EX.ca.public_key, EX.issuer.public_key)
    forged = LogRecord.decode(data)
    forged.sign(EX.card_a, EX.cert_b)
    with raises(InvalidSignature):
        LogRecord.decode(forged.encode()).verify(
            EX.backend, EX.ca.public_key, EX.issuer.public_key
        )
    # A second payment the payer signed for the challenge, put into B's record by a bystander:
    # S verifies, SB does not (B accepted the first).
    second = Payment.answering(EX.challenge, 2, EX.cert_a, EX.voucher_a, EX.stamp_a)
    swapped = LogRecord.decode(data)
    swapped.payment = second.sign(EX.card_a)
    with raises(InvalidSignature):
        LogRecord.decode(swapped.encode()).verify(
            EX.backend, EX.ca.public_key, EX.issuer.public_key
        )
    with raises(RecordError):
        LogRecord.decode(data[:-1])
    with raises(RecordError):
        LogRecord.decode(data + b"\x00")


def test_receipt_binds_its_record():
    other = LogRecord(EX.cert_b.card_id, bytes(16), EX.payment)
    assert not EX.receipt.matches(other)
    bad = Receipt(bytes(32), EX.cert_b.card_id, EX.chall_id, 3, 3, 1, EX.log_id)
    with raises(RecordError, "leaf index"):
        Receipt.decode(bad.sign(EX.logger).encode())


def test_records_fit_or_chain():
    """Sizes that docs/PROTOCOL.md states: which fit one APDU and which are chained."""
    sizes = dict((name, len(data)) for name, data in EX.transcript())
    for name in ("CertT(A)", "RiskParameters", "VoucherI(A)", "Ticket", "Challenge", "Receipt"):
        assert sizes[name] <= 243, name
    assert sizes["Payment"] > 248 and sizes["LogRecord"] > 248
