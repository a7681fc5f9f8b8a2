"""An independent check of the worked example in docs/PROTOCOL.md.

Written from the specification alone, with pyca/cryptography and the standard library: it does
not import purse. It reads the hex transcript out of the document, parses it with its own small
TLV reader, and verifies every signature, hash and derived value the document defines.
"""

import hashlib
import hmac
import re

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from mp_support import ROOT

N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
DOC = ROOT / "docs" / "PROTOCOL.md"


def transcript():
    text = DOC.read_text().split("## 10. Worked example", 1)[1]
    found = re.findall(r"^(\S+) \((\d+) bytes\):\n\n```\n([0-9A-F\n]+)```", text, re.M)
    items = {}
    for name, size, hexdata in found:
        data = bytes.fromhex(hexdata.replace("\n", ""))
        assert len(data) == int(size), name
        items[name] = data
    return items


def tlv_items(data):
    """[(tag, value)] of a concatenation of BER-TLV objects (tags up to 2 bytes here)."""
    out, pos = [], 0
    while pos < len(data):
        tag = data[pos]
        pos += 1
        if tag & 0x1F == 0x1F:
            tag = (tag << 8) | data[pos]
            pos += 1
        length = data[pos]
        pos += 1
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        out.append((tag, data[pos : pos + length]))
        pos += length
    assert pos == len(data)
    return out


def record(data, tag):
    ((got_tag, value),) = tlv_items(data)
    assert got_tag == tag
    return value


def signed_parts(value):
    """(body fields, exact signed bytes, signature, the other outer items)."""
    items = tlv_items(value)
    assert items[0][0] == 0x70
    body = items[0][1]
    signed = bytes([0x70]) + encode_length(len(body)) + body
    sig = [v for t, v in items if t == 0x84]
    rest = [(t, v) for t, v in items[1:] if t != 0x84]
    return dict(tlv_items(body)), signed, sig[0] if sig else None, rest


def encode_length(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82]) + n.to_bytes(2, "big")


def verify(public_key, message, signature):
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    assert len(signature) == 64 and 0 < s <= N // 2, "signature is not raw low-s"
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))


def check_signed(data, tag, domain, signer_key):
    fields, signed, sig, rest = signed_parts(record(data, tag))
    assert fields[0x80] == domain and fields[0x81] == b"\x03"
    verify(signer_key, signed, sig)
    # Any change to the signed bytes must break the signature.
    with pytest.raises(InvalidSignature):
        verify(signer_key, signed[:-1] + bytes([signed[-1] ^ 1]), sig)
    return fields, rest


def sha(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def example_secret(label):
    return sha(b"icpurse example ", label)


def test_every_signature_and_hash_of_the_worked_example():
    t = transcript()
    pk_t, pk_i, pk_l = t["PkT"], t["PkI"], t["PkL"]
    # The log id: L's key and the genesis its database was made with (section 7.7).
    assert t["genesis"] == example_secret(b"genesis of L's log")[:16]
    log_id = sha(b"icpurse/log-id", pk_l, t["genesis"])[:8]
    assert t["LogId"] == log_id

    for name, card_key in (("CertT(A)", t["PkUA"]), ("CertT(B)", t["PkUB"])):
        cert, _ = check_signed(t[name], 0x61, b"icpurse/certificate", pk_t)
        assert cert[0x83] == card_key and 0x8B not in cert
        assert cert[0x82] == sha(b"icpurse/card-id", card_key)[:8]
    id_b = sha(b"icpurse/card-id", t["PkUB"])[:8]

    check_signed(t["RiskParameters"], 0x63, b"icpurse/risk", pk_i)
    voucher, _ = check_signed(t["VoucherI(A)"], 0x62, b"icpurse/voucher", pk_i)
    assert voucher[0x83] == t["PkUA"] and int.from_bytes(voucher[0x8D], "big") == 10000
    assert voucher[0x8B] == log_id
    stamp, _ = check_signed(t["Stamp(A)"], 0x6C, b"icpurse/stamp", pk_l)
    assert stamp[0x8B] == log_id and stamp[0x82] == sha(b"icpurse/card-id", t["PkUA"])[:8]
    revocation, _ = check_signed(t["RevocationList"], 0x69, b"icpurse/revocation", pk_t)
    assert 0x82 not in revocation
    ticket, _ = check_signed(t["Ticket"], 0x68, b"icpurse/ticket", pk_l)
    assert ticket[0x96] == example_secret(b"nonce of card B")[:16] and ticket[0x8B] == log_id

    # The challenge: open eC with K per section 5, then recompute G1 and G2.
    challenge, _, sig, _ = signed_parts(record(t["Challenge"], 0x64))
    assert sig is None and challenge[0x97] == b"\x01"
    chall_id, sealed = challenge[0x86], challenge[0x89]
    k = example_secret(b"K of card B")
    k_enc = hmac.digest(k, b"icpurse seal v1 enc", "sha256")
    k_mac = hmac.digest(k, b"icpurse seal v1 mac", "sha256")
    c, tag = sealed[:-16], sealed[-16:]
    mac_input = (
        b"icpurse seal v1 tag" + bytes([8]) + chall_id + (0).to_bytes(4, "big")
        + len(c).to_bytes(4, "big") + c
    )  # fmt: skip
    assert hmac.compare_digest(hmac.digest(k_mac, mac_input, "sha256")[:16], tag)
    stream = b"".join(
        hmac.digest(k_enc, bytes([8]) + chall_id + i.to_bytes(4, "big"), "sha256")
        for i in range(2)
    )
    plain = bytes(a ^ b for a, b in zip(c, stream, strict=False))
    r1, r2, x, cid = plain[:16], plain[16:32], plain[32:36], plain[36:]
    assert cid == chall_id and x == challenge[0x85] and int.from_bytes(x, "big") == 1250
    assert challenge[0x87] == sha(b"icpurse/G1", id_b, r1)
    assert challenge[0x88] == sha(b"icpurse/G2", t["PkUB"], r2)

    # The payment: S with PkUA from the CertT(A) it carries, over exactly the body.
    payment, rest = check_signed(t["Payment"], 0x65, b"icpurse/payment", t["PkUA"])
    nested = dict(rest)
    assert nested[0x89] == sealed
    assert bytes([0x61]) + encode_length(len(nested[0x61])) + nested[0x61] == t["CertT(A)"]
    assert bytes([0x62]) + encode_length(len(nested[0x62])) + nested[0x62] == t["VoucherI(A)"]
    for tag in (0x85, 0x87, 0x88, 0x86):
        assert payment[tag] == challenge[tag]
    assert int.from_bytes(payment[0x8C], "big") == 1

    # The log record: L rebuilds S's body from IdUB and R1 and checks S.
    log = dict(tlv_items(record(t["LogRecord"], 0x66)))
    assert log[0x82] == id_b and log[0x8A] == r1
    body = b"".join(
        bytes([tag]) + encode_length(len(v)) + v
        for tag, v in (
            (0x80, b"icpurse/payment"),
            (0x81, b"\x03"),
            (0x85, log[0x85]),
            (0x87, sha(b"icpurse/G1", log[0x82], log[0x8A])),
            (0x88, log[0x88]),
            (0x86, log[0x86]),
            (0x8C, log[0x8C]),
        )
    )
    verify(t["PkUA"], bytes([0x70]) + encode_length(len(body)) + body, log[0x84])

    # H(record) covers IdUB, R1, G2, x, ChallID, ctrA and PkUA: what no third party can alter.
    record_hash = sha(
        b"icpurse/log-record", log[0x82], log[0x8A], log[0x88], log[0x85], log[0x86], log[0x8C],
        t["PkUA"],
    )  # fmt: skip
    assert record_hash == t["H(record)"]
    receipt, _ = check_signed(t["Receipt"], 0x67, b"icpurse/receipt", pk_l)
    assert receipt[0x95] == record_hash and receipt[0x82] == id_b and receipt[0x86] == chall_id
    assert receipt[0x8B] == log_id
    assert int.from_bytes(receipt[0x93], "big") == 0
    assert int.from_bytes(receipt[0x94], "big") == 1
