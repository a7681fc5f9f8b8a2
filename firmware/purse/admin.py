"""The applet's commands outside a transfer: provisioning, value loads, tickets, revocation
lists, sync (receipts, stamps, outbox and journal reads) and the holder's log (docs/PROTOCOL.md
section 8).

Apart from purse.applet, which keeps SELECT, GET INFO and the transfer's commands, so that a
card's heap holds this code only while one of these commands runs: purse.applet imports this
module for the command and, on MicroPython, unloads it again after it, like the provisioning
modules it calls (docs/DESIGN.md section 11). One function answers them all: a card interns
every name it loads for good (its qstrs), and a handler per command was a name each.
"""

from purse import errors, proto, tlv
from purse.applet import BadP1P2, check_p1p2, wallet


def handle(applet, cmd):
    """The response data of one of the commands purse.applet.ADMIN lists."""
    ins = cmd.ins
    card = applet.card
    if ins == proto.INS_INSTALL_TRUST:
        if cmd.p1 not in (proto.TRUST_CA, proto.TRUST_ISSUER, proto.TRUST_LOGGER) or cmd.p2:
            raise BadP1P2("P1 names the trust anchor: 01, 02 or 03")
        wallet("credentials").install_trust(card, cmd.p1, cmd.data)
        return b""
    if ins == proto.INS_READ_OUTBOX:
        if cmd.p2:
            raise BadP1P2("P1 is the entry index, P2 00")
        return wallet("recipient").outbox_record(card, cmd.p1)
    if ins == proto.INS_READ_JOURNAL:
        return wallet("payer").journal_payment(card, (cmd.p1 << 8) | cmd.p2)
    if ins == proto.INS_GET_LOG:
        # The log's detail is the holder's: the applet answers GET LOG only over the card's
        # own link, never to a peer over the RF field (docs/PROTOCOL.md section 8).
        check_p1p2(cmd)
        return b"".join(card.log)
    # Every other command takes P1 P2 00 00.
    check_p1p2(cmd)
    if ins == proto.INS_GENERATE_KEY:
        if len(cmd.data) not in (0, 32):
            raise errors.APDUError("host entropy is 32 bytes or none")
        card_id, public_key = wallet("credentials").generate_key(card, bytes(cmd.data))
        return tlv.encode(
            proto.TAG_INFO,
            tlv.encode_all(((proto.TAG_CARD_ID, card_id), (proto.TAG_PUBLIC_KEY, public_key))),
        )
    if ins == proto.INS_GET_NONCE:
        return tlv.encode(proto.TAG_NONCE, wallet("tickets").get_nonce(card))
    if ins == proto.INS_LOAD_VOUCHER:
        balance = wallet("credentials").load_voucher(card, cmd.data)
        return tlv.encode(proto.TAG_BALANCE, tlv.u32(balance))
    if ins == proto.INS_TAKE_RECEIPT:
        wallet("recipient").take_receipt(card, cmd.data)
        return b""
    credentials = wallet("credentials")
    if ins == proto.INS_INSTALL_CERTIFICATE:
        credentials.install_certificate(card, cmd.data)
    elif ins == proto.INS_INSTALL_RISK:
        credentials.install_risk(card, cmd.data)
    elif ins == proto.INS_LOCK:
        credentials.lock(card)
    elif ins == proto.INS_TAKE_TICKET:
        credentials.take_ticket(card, cmd.data)
    elif ins == proto.INS_INSTALL_REVOCATION:
        credentials.install_revocation(card, cmd.data)
    elif ins == proto.INS_TAKE_STAMP:
        credentials.take_stamp(card, cmd.data)
    return b""
