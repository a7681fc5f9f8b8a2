"""Field encodings shared by every record: fixed-width integers and the protocol hashes."""

import hashlib

from purse import proto
from purse.errors import RecordError

# The fixed-width integer fields live in purse.tlv, which every module (the applet's too)
# loads first; records keep using them as fields.u32, fields.u64 and fields.uint.
from purse.tlv import u32, u64, uint  # noqa: F401 - fields.u64 for the records


def amount(value):
    """x as a u32 field; an amount is 1 .. MAX_AMOUNT in the smallest unit."""
    if value < 1 or value > proto.MAX_AMOUNT:
        raise RecordError("amount %d outside 1..%d" % (value, proto.MAX_AMOUNT))
    return u32(value)


def sha256(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def card_id(public_key):
    """IdU: the first 8 bytes of SHA-256("icpurse/card-id" || PkU), PkU compressed."""
    return sha256(proto.HASH_CARD_ID, public_key)[: proto.CARD_ID_SIZE]


def g1(id_b, r1):
    """G1 = SHA-256("icpurse/G1" || IdUB || R1): names the recipient without revealing it."""
    return sha256(proto.HASH_G1, id_b, r1)


def g2(pk_b, r2):
    """G2 = SHA-256("icpurse/G2" || PkUB || R2)."""
    return sha256(proto.HASH_G2, pk_b, r2)


def scrambled(r1, r2, x, chall_id):
    """eC of the hash-scrambled seal mode: SHA-256("icpurse/eC" || R1 || R2 || x || ChallID)."""
    return sha256(proto.HASH_SCRAMBLE, r1, r2, amount(x), chall_id)


def sealed_plaintext(r1, r2, x, chall_id):
    """The plaintext of the encrypted seal mode: R1 || R2 || x || ChallID (44 bytes)."""
    return bytes(r1) + bytes(r2) + amount(x) + bytes(chall_id)


def split_sealed_plaintext(plain):
    """(R1, R2, x, ChallID) of an opened encrypted-mode plaintext: sealed_plaintext's inverse.
    Its length is the caller's to check (the seal opens only at the length it is given)."""
    r = proto.RANDOM_SIZE
    c = 2 * r + proto.U32_SIZE
    return plain[:r], plain[r : 2 * r], uint(plain[2 * r : c]), plain[c : c + proto.CHALL_ID_SIZE]


def record_hash(id_b, r1, g2, x, chall_id, counter, payer_key):
    """H(record) = SHA-256("icpurse/log-record" || IdUB || R1 || G2 || x || ChallID || ctrA ||
    PkUA): every field is of fixed length, and none can be changed by anyone but the payer (S
    covers G1 = H(IdUB, R1), G2, x, ChallID and ctrA). The signature's bytes, CertT(A),
    VoucherI(A) and the RTT are left out: a third party can re-encode or swap them, and a record
    that differs only there is the same record (docs/PROTOCOL.md section 3)."""
    return sha256(
        proto.HASH_LOG_RECORD, id_b, r1, g2, amount(x), chall_id, u32(counter), payer_key
    )
