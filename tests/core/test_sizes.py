"""The protocol's sizes are declared once, in purse.proto, and agree with what uses them.

Runs on CPython and on MicroPython.
"""

from _check import raises

from purse import proto, tlv
from purse.crypto.seal import TAG_SIZE
from purse.errors import RecordError
from purse.records import fields as f


def test_sealed_challenge_is_its_plaintext_and_the_seal_tag():
    plain = f.sealed_plaintext(b"\x01" * 16, b"\x02" * 16, 7, b"\x03" * 8)
    assert len(plain) + TAG_SIZE == proto.SEALED_SIZE == 60


def test_split_sealed_plaintext_inverts_sealed_plaintext():
    r1, r2, chall_id = bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 40))
    plain = f.sealed_plaintext(r1, r2, 0x01020304, chall_id)
    assert f.split_sealed_plaintext(plain) == (r1, r2, 0x01020304, chall_id)


def test_payment_key_is_identity_and_counter():
    identity = proto.PUBLIC_KEY_SIZE + proto.CHALL_ID_SIZE + proto.HASH_SIZE
    assert proto.PAYMENT_KEY_SIZE == identity + proto.U32_SIZE == 77


def test_one_u32_helper():
    assert f.u32 is tlv.u32 and f.u64 is tlv.u64 and f.uint is tlv.uint
    assert tlv.u32(0x01020304) == b"\x01\x02\x03\x04"
    assert len(tlv.u32(0)) == proto.U32_SIZE and len(tlv.u64(0)) == proto.U64_SIZE
    assert tlv.uint(tlv.u32(proto.MAX_AMOUNT)) == proto.MAX_AMOUNT
    assert f.amount(5) == tlv.u32(5)
    with raises(RecordError):
        tlv.u32(-1)
