"""BER-TLV codec: vectors written out from ISO/IEC 7816-4 and EMV, and every rejection rule."""

from _check import raises, unhex

from purse import tlv
from purse.errors import TLVError

# EMV Book 1, the FCI of the payment system environment "1PAY.SYS.DDF01": a constructed
# application-class template (6F) holding a DF name (84) and a proprietary template (A5) with an
# SFI (88) and a two-byte tag (5F2D, language preference "en").
FCI = unhex("6F 1A 84 0E 31 50 41 59 2E 53 59 53 2E 44 44 46 30 31 A5 08 88 01 02 5F 2D 02 65 6E")


def test_decode_emv_fci():
    tag, value = tlv.decode_one(FCI, 0x6F)
    assert tag == 0x6F and tlv.is_constructed(tag)
    inner = tlv.decode_all(value)
    assert [t for t, _ in inner] == [0x84, 0xA5]
    assert bytes(inner[0][1]) == b"1PAY.SYS.DDF01"
    prop = tlv.decode_all(inner[1][1])
    assert prop[0][0] == 0x88 and bytes(prop[0][1]) == b"\x02"
    assert prop[1][0] == 0x5F2D and bytes(prop[1][1]) == b"en"
    assert not tlv.is_constructed(0x5F2D)
    assert tlv.tag_class(0x5F2D) == tlv.CLASS_APPLICATION
    assert tlv.tag_class(0xA5) == tlv.CLASS_CONTEXT


def test_encode_emv_fci():
    prop = tlv.encode_all(((0x88, b"\x02"), (0x5F2D, b"en")))
    inner = tlv.encode_all(((0x84, b"1PAY.SYS.DDF01"), (0xA5, prop)))
    assert tlv.encode(0x6F, inner) == FCI


def test_length_forms_are_minimal():
    assert tlv.encode(0x80, b"")[1:] == b"\x00"
    assert tlv.encode(0x80, bytes(0x7F))[1:2] == b"\x7f"
    assert tlv.encode(0x80, bytes(0x80))[1:3] == b"\x81\x80"
    assert tlv.encode(0x80, bytes(0xFF))[1:3] == b"\x81\xff"
    assert tlv.encode(0x80, bytes(0x100))[1:4] == b"\x82\x01\x00"
    for n in (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x1234):
        enc = tlv.encode(0x9F1F, bytes(n))
        assert len(enc) == tlv.encoded_size(0x9F1F, n)
        tag, value = tlv.decode_one(enc)
        assert tag == 0x9F1F and len(value) == n


def test_three_byte_tag_round_trip():
    enc = tlv.encode(0x7F8101, b"\x01")
    assert enc == unhex("7F 81 01 01 01")
    assert tlv.decode_one(enc)[0] == 0x7F8101


def test_rejects_indefinite_length():
    with raises(TLVError, "indefinite"):
        tlv.decode_one(unhex("A5 80 88 01 02 00 00"))


def test_rejects_non_minimal_lengths():
    with raises(TLVError, "non-minimal"):
        tlv.decode_one(unhex("84 81 05 01 02 03 04 05"))
    with raises(TLVError, "non-minimal"):
        tlv.decode_one(unhex("84 82 00 90") + bytes(0x90))
    with raises(TLVError, "not supported"):
        tlv.decode_one(unhex("84 83 00 00 01 00"))


def test_rejects_length_beyond_buffer():
    with raises(TLVError, "past the end"):
        tlv.decode_one(unhex("84 05 01 02"))
    with raises(TLVError, "truncated"):
        tlv.decode_one(unhex("84"))
    with raises(TLVError, "truncated"):
        tlv.decode_one(unhex("84 81"))
    with raises(TLVError, "truncated"):
        tlv.decode_one(b"")


def test_rejects_trailing_bytes():
    with raises(TLVError, "trailing"):
        tlv.decode_one(unhex("84 01 02 00"))
    with raises(TLVError, "trailing"):
        tlv.decode_one(FCI + b"\x84")


def test_rejects_wrong_tag():
    with raises(TLVError, "expected"):
        tlv.decode_one(FCI, 0x70)


def test_rejects_universal_class_and_padding():
    with raises(TLVError, "universal"):
        tlv.decode_one(unhex("04 01 00"))
    with raises(TLVError, "universal"):
        tlv.decode_all(unhex("84 01 02 00 00"))
    with raises(TLVError):
        tlv.encode(0x04, b"")


def test_rejects_non_minimal_and_long_tags():
    with raises(TLVError, "non-minimal tag"):
        tlv.decode_one(unhex("5F 1E 00"))
    with raises(TLVError, "non-minimal tag"):
        tlv.decode_one(unhex("5F 80 2D 00"))
    with raises(TLVError, "three bytes"):
        tlv.decode_one(unhex("5F 81 81 01 00"))
    with raises(TLVError, "truncated"):
        tlv.decode_one(unhex("5F"))
    with raises(TLVError):
        tlv.encode(0x5F1E, b"")


SCHEMA = (
    (0x80, 1, 1, 0),
    (0x81, 8, 8, 0),
    (0x82, 0, 4, tlv.OPTIONAL),
    (0x83, 1, 2, tlv.REPEATED | tlv.OPTIONAL),
)


def _fields(*items):
    return tlv.encode_all(items)


def test_decode_fields_accepts_schema():
    got = tlv.decode_fields(
        _fields((0x80, b"\x01"), (0x81, bytes(8)), (0x83, b"a"), (0x83, b"bc")), SCHEMA
    )
    assert bytes(got[0x80]) == b"\x01"
    assert 0x82 not in got
    assert [bytes(v) for v in got[0x83]] == [b"a", b"bc"]
    got = tlv.decode_fields(_fields((0x80, b"\x01"), (0x81, bytes(8)), (0x82, b"")), SCHEMA)
    assert bytes(got[0x82]) == b""


def test_decode_fields_rejects_duplicates():
    with raises(TLVError, "duplicate"):
        tlv.decode_fields(_fields((0x80, b"\x01"), (0x80, b"\x01"), (0x81, bytes(8))), SCHEMA)


def test_decode_fields_rejects_missing_unknown_misordered():
    with raises(TLVError, "missing"):
        tlv.decode_fields(_fields((0x80, b"\x01")), SCHEMA)
    with raises(TLVError, "missing"):
        tlv.decode_fields(_fields((0x81, bytes(8)), (0x80, b"\x01")), SCHEMA)
    with raises(TLVError, "unexpected"):
        tlv.decode_fields(_fields((0x80, b"\x01"), (0x81, bytes(8)), (0x84, b"")), SCHEMA)
    with raises(TLVError, "misordered"):
        tlv.decode_fields(
            _fields((0x80, b"\x01"), (0x81, bytes(8)), (0x83, b"a"), (0x82, b"")), SCHEMA
        )


def test_decode_fields_mandatory_repeated():
    schema = ((0x80, 1, 1, 0), (0x83, 1, 2, tlv.REPEATED))
    with raises(TLVError, "missing"):
        tlv.decode_fields(_fields((0x80, b"\x01")), schema)
    got = tlv.decode_fields(_fields((0x80, b"\x01"), (0x83, b"a")), schema)
    assert len(got[0x83]) == 1


def test_decode_fields_checks_lengths():
    with raises(TLVError, "bytes, not"):
        tlv.decode_fields(_fields((0x80, b"\x01"), (0x81, bytes(7))), SCHEMA)
    with raises(TLVError, "bytes, not"):
        tlv.decode_fields(_fields((0x80, b""), (0x81, bytes(8))), SCHEMA)
