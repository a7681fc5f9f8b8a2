"""The terminal's side of the card's APDU command set: one method per command, over any link.

A CardClient wraps `exchange(apdu) -> response` (an in-process Applet, a serial port, an NFC
reader on a board) and handles command chaining and GET RESPONSE. A refusal raises CardError
with the status word; the records it returns are the card's bytes, unchanged. It lives in the
core because a board acting as an NFC reader drives the other card with it too.
"""

from purse import proto, reader, tlv
from purse.errors import PurseError


class CardReset(PurseError):
    """The card restarted while a command was under way (a reset, a power cut). The link
    raises it after selecting the applet again; CardClient then sends the whole command
    again — every command is safe to repeat: a payment comes from the journal, a used
    challenge is refused, a voucher or receipt already taken is refused."""


# How often one command is sent again after resets before giving up.
RESET_RETRIES = 3


class WrongPayment(PurseError):
    """The payer's answer does not answer the challenge the recipient made: a substituted or
    altered payment. Nothing was sent to the recipient."""


class CardError(PurseError):
    """The card refused a command; `.sw` is its status word."""

    def __init__(self, command, sw):
        super().__init__("%s refused with status %04X" % (command, sw))
        self.command = command
        self.sw = sw


class Info:
    """GET INFO (or SELECT) answer."""

    def __init__(self, data):
        fields = dict(tlv.decode_all(tlv.decode_one(data, proto.TAG_INFO)[1]))
        self.version = tlv.uint(fields.get(proto.TAG_VERSION, b""))
        self.state = tlv.uint(fields.get(proto.TAG_STATE, b""))
        self.card_id = bytes(fields.get(proto.TAG_CARD_ID, b""))
        self.public_key = bytes(fields.get(proto.TAG_PUBLIC_KEY, b""))
        self.balance = tlv.uint(fields.get(proto.TAG_BALANCE, b""))
        self.issued = tlv.uint(fields.get(proto.TAG_ISSUED, b""))
        self.counter = tlv.uint(fields.get(proto.TAG_COUNTER, b""))
        self.ltime = tlv.uint(fields.get(proto.TAG_LTIME, b""))
        self.outbox = tlv.uint(fields.get(proto.TAG_OUTBOX_COUNT, b""))
        self.journal = tlv.uint(fields.get(proto.TAG_JOURNAL_COUNT, b""))


class CardClient:
    def __init__(self, exchange):
        self.exchange = exchange

    def command(self, name, ins, p1=0, p2=0, data=b"", cla=proto.CLA_PROPRIETARY):
        tries = 0
        while True:
            try:
                body, sw = reader.transceive(self.exchange, cla, ins, p1, p2, data)
                break
            except CardReset:
                tries += 1
                if tries > RESET_RETRIES:
                    raise
        if sw != proto.SW_OK:
            raise CardError(name, sw)
        return body

    def select(self):
        return Info(
            self.command(
                "SELECT", proto.INS_SELECT, proto.SELECT_BY_NAME, proto.SELECT_FCI, proto.AID,
                proto.CLA_ISO,
            )
        )  # fmt: skip

    def info(self):
        return Info(self.command("GET INFO", proto.INS_GET_INFO))

    def generate_key(self, host_entropy=b""):
        info = Info(self.command("GENERATE KEY", proto.INS_GENERATE_KEY, data=host_entropy))
        return info.card_id, info.public_key

    def install_trust(self, which, key):
        self.command("INSTALL TRUST", proto.INS_INSTALL_TRUST, which, 0, key)

    def install_certificate(self, cert):
        self.command("INSTALL CERTIFICATE", proto.INS_INSTALL_CERTIFICATE, data=cert)

    def install_risk(self, risk):
        self.command("INSTALL RISK", proto.INS_INSTALL_RISK, data=risk)

    def lock(self):
        self.command("LOCK", proto.INS_LOCK)

    def get_nonce(self):
        return bytes(tlv.decode_one(self.command("GET NONCE", proto.INS_GET_NONCE))[1])

    def take_ticket(self, ticket):
        self.command("TAKE TICKET", proto.INS_TAKE_TICKET, data=ticket)

    def install_revocation(self, revocation):
        self.command("INSTALL REVOCATION", proto.INS_INSTALL_REVOCATION, data=revocation)

    def load_voucher(self, voucher):
        return tlv.uint(
            tlv.decode_one(self.command("LOAD VOUCHER", proto.INS_LOAD_VOUCHER, data=voucher))[1]
        )

    def make_challenge(self, x, mode=proto.SEAL_ENCRYPTED, needs_ticket=False):
        data = tlv.encode(proto.TAG_AMOUNT, tlv.u32(x))
        return self.command(
            "MAKE CHALLENGE", proto.INS_MAKE_CHALLENGE, mode, 1 if needs_ticket else 0, data
        )

    def pay(self, challenge):
        return self.command("PAY", proto.INS_PAY, data=challenge)

    def accept(self, challenge, payment, ticket=None, rtt=None):
        """ACCEPT `payment` for `challenge` (the bytes MAKE CHALLENGE returned). The payment
        must answer exactly that challenge (WrongPayment otherwise, before the card sees it),
        and the card is told which ChallID it expects. Returns (the amount the card credited,
        its new balance)."""
        # Imported here: a board that only pays never loads the records of a transfer.
        from purse.records.transfer import Challenge, Payment

        asked = Challenge.decode(challenge)
        if not Payment.decode(payment).answers(asked):
            raise WrongPayment("the payment does not answer the challenge the recipient made")
        data = tlv.encode(proto.TAG_CHALL_ID, asked.chall_id) + payment + (ticket or b"")
        if rtt is not None:
            data += tlv.encode(proto.TAG_RTT, tlv.u32(min(rtt, 0xFFFFFFFF)))
        answer = dict(tlv.decode_all(self.command("ACCEPT", proto.INS_ACCEPT, data=data)))
        credited = tlv.uint(answer.get(proto.TAG_AMOUNT, b""))
        if credited != asked.x:
            raise WrongPayment("the card credited %d, not the %d asked" % (credited, asked.x))
        return credited, tlv.uint(answer.get(proto.TAG_BALANCE, b""))

    def take_stamp(self, stamp):
        self.command("TAKE STAMP", proto.INS_TAKE_STAMP, data=stamp)

    def take_receipt(self, receipt):
        self.command("TAKE RECEIPT", proto.INS_TAKE_RECEIPT, data=receipt)

    def read_outbox(self, index):
        return self.command("READ OUTBOX", proto.INS_READ_OUTBOX, index)

    def read_journal(self, index):
        return self.command("READ JOURNAL", proto.INS_READ_JOURNAL, index >> 8, index & 0xFF)

    def log(self):
        """GET LOG: the card's local log, oldest first, as (INS, reason, status word) tuples;
        icpurse.cardlog.describe turns them into words. Only over the card's own link."""
        data = self.command("GET LOG", proto.INS_GET_LOG)
        return [
            (data[i], data[i + 1], (data[i + 2] << 8) | data[i + 3])
            for i in range(0, len(data) - 3, 4)
        ]

    def outbox(self):
        """Every log record waiting on the card for a receipt."""
        return [self.read_outbox(i) for i in range(self.info().outbox)]

    def journal(self):
        """Every signed payment the card keeps in its journal, oldest first."""
        return [self.read_journal(i) for i in range(self.info().journal)]


def personalise(client, anchors, certify, risk, ticket_for, host_entropy=b""):
    """Provision a fresh card in the order docs/PROTOCOL.md section 8 gives, then lock it.

    `anchors` is (PkT, PkI, PkL); `certify(public_key) -> CertT bytes` asks the CA;
    `risk` is the issuer's signed risk parameters; `ticket_for(nonce) -> ticket bytes` asks the
    logger for the card's first L-time. Only the public key leaves the card. Returns its Info.
    """
    client.select()
    _, public_key = client.generate_key(host_entropy)
    for which, key in zip((proto.TRUST_CA, proto.TRUST_ISSUER, proto.TRUST_LOGGER), anchors):
        client.install_trust(which, key)
    client.install_certificate(certify(public_key))
    client.take_ticket(ticket_for(client.get_nonce()))
    client.install_risk(risk)
    client.lock()
    return client.info()
