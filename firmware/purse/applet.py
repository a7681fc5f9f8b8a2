"""The card's APDU command set (docs/PROTOCOL.md section 8): a handler per command of a transfer
and SELECT and GET INFO, one table, and purse.admin for every other command (loaded per command).

`Applet.process(apdu) -> response` is the whole card as a transport sees it. It reassembles
chained commands, hands out long responses through GET RESPONSE, requires SELECT first, and is
the only place where an exception becomes a status word (the table _STATUS); the detail of a
refusal goes to the card's local log, never to the peer.
"""

import gc
import sys

from purse import apdu, errors, proto, tlv
from purse.compat import MICROPYTHON, host_only


def wallet(name):
    """The wallet module for a command, imported on first use: a card that only pays never
    loads the recipient's code (or the provisioning code after it is personalised), which
    keeps a board's heap free for the cryptography (docs/DESIGN.md section 11)."""
    return __import__("purse.wallet." + name, None, None, (name,))


# Modules of provisioning and of rare commands (vouchers, tickets, receipts, revocation lists),
# with purse.admin, which answers every command outside a transfer (ADMIN). On MicroPython a
# card unloads them after each such command, so a board personalised in this boot trades with
# as much free heap as one that restarted since. CPython keeps them: host code in the same
# process shares their classes.
_TRANSIENT = (
    "purse.admin", "purse.wallet.credentials", "purse.wallet.tickets", "purse.records.logger"
)  # fmt: skip
_UNLOAD = MICROPYTHON
# CPython has no small heap to keep in order, and its collector costs more per call.
_COLLECT = hasattr(gc, "mem_free")


def _unload_transient():
    for name in _TRANSIENT:
        if sys.modules.pop(name, None) is not None:
            package, _, child = name.rpartition(".")
            try:
                delattr(sys.modules[package], child)
            except (AttributeError, KeyError):
                pass


class BadP1P2(errors.PurseError):
    """P1 or P2 is not one this command takes."""


# Exception class, status word, ... most specific first (docs/DESIGN.md section 6): pairs laid
# out flat, one tuple rather than a tuple of pairs (a third of the heap).
_STATUS = (
    BadP1P2, proto.SW_WRONG_P1P2,
    errors.InsufficientFunds, proto.SW_FUNDS,
    errors.LimitExceeded, proto.SW_LIMIT,
    errors.UnknownChallenge, proto.SW_CHALLENGE_UNKNOWN,
    errors.MustSync, proto.SW_MUST_SYNC,
    errors.TicketRefused, proto.SW_TICKET,
    errors.Declined, proto.SW_DECLINED,
    errors.Revoked, proto.SW_REVOKED,
    errors.JournalFull, proto.SW_JOURNAL_FULL,
    errors.StalePayer, proto.SW_STALE_PAYER,
    errors.Locked, proto.SW_LOCKED,
    errors.NotFound, proto.SW_NO_MATCH,
    errors.StoreFull, proto.SW_STORE_FULL,
    errors.WrongState, proto.SW_WRONG_STATE,
    errors.APDUError, proto.SW_WRONG_LENGTH,
    errors.TLVError, proto.SW_WRONG_DATA,
    # A malformed record and a failed signature look alike to the peer: both are integrity.
    errors.RecordError, proto.SW_SECURITY,
    errors.CryptoError, proto.SW_SECURITY,
    errors.StoreError, proto.SW_INTERNAL,
)  # fmt: skip


# What the local log tells beyond the status word: the reason of entry n is LOG_REASONS[n - 1]
# that the exception is an instance of (first match), 0 for any other. The host's
# icpurse.cardlog turns the numbers into words; new reasons go at the end only.
LOG_REASONS = (
    errors.InvalidSignature,
    errors.InvalidKey,
    errors.SealError,
    errors.CredentialError,
    errors.CryptoError,
    errors.RecordError,
    errors.TLVError,
    errors.APDUError,
    errors.StoreError,
    errors.Refusal,
    BadP1P2,
)


def log_reason(exc):
    for n, cls in enumerate(LOG_REASONS):
        if isinstance(exc, cls):
            return n + 1
    return 0


def status_for(exc):
    for i in range(0, len(_STATUS), 2):
        if isinstance(exc, _STATUS[i]):
            return _STATUS[i + 1]
    return proto.SW_INTERNAL


def check_p1p2(cmd, p1=0, p2=0):
    """BadP1P2 unless the command's P1 and P2 are `p1` and `p2`."""
    if cmd.p1 != p1 or cmd.p2 != p2:
        raise BadP1P2("P1 P2 must be %02X %02X" % (p1, p2))


def _records(data):
    """Split a command body into its top-level records, each as its complete encoding: a view
    of the command, not a copy, since ACCEPT's payment is the largest thing a card parses while
    its heap holds the most (the record it then signs needs a large block)."""
    mv = memoryview(data)
    out = []
    pos = 0
    while pos < len(mv):
        start = pos
        tag, _, pos = tlv.read(mv, pos)
        out.append((tag, mv[start:pos]))
    return out


# --- handlers: each takes (applet, command) and returns the response data ----------------------


def handle_select(applet, cmd):
    if cmd.p1 != proto.SELECT_BY_NAME or cmd.p2 not in (proto.SELECT_FCI, proto.SELECT_NO_DATA):
        raise BadP1P2("P1 P2 must be 04 00 or 04 0C")
    if bytes(cmd.data) != proto.AID:
        # Another application's AID (a terminal trying the applications it knows): 6A82, and
        # the purse stays selected if it was (ISO 7816-4: a failed selection leaves the
        # current one as it was), so the terminal may go on with it.
        raise errors.NotFound("unknown AID")
    applet.selected = True
    if cmd.p2 == proto.SELECT_NO_DATA:
        return b""
    return _info(applet, short=True)


def _info(applet, short=False):
    state = applet.card.state
    items = [
        (proto.TAG_VERSION, bytes((proto.VERSION,))),
        (proto.TAG_STATE, bytes((state.lifecycle,))),
    ]
    if not short and state.public_key is not None:
        items += [
            (proto.TAG_CARD_ID, applet.card.card_id()),
            (proto.TAG_PUBLIC_KEY, state.public_key),
            (proto.TAG_BALANCE, tlv.u32(state.balance)),
            (proto.TAG_ISSUED, tlv.u64(applet.card.issued())),
            (proto.TAG_COUNTER, tlv.u32(state.pay_counter)),
            (proto.TAG_LTIME, tlv.u32(state.ltime)),
            (proto.TAG_OUTBOX_COUNT, tlv.u32(len(state.outbox))),
            (proto.TAG_JOURNAL_COUNT, tlv.u32(len(state.journal))),
        ]
    return tlv.encode(proto.TAG_INFO, tlv.encode_all(items))


def handle_get_info(applet, cmd):
    check_p1p2(cmd)
    return _info(applet)


def handle_make_challenge(applet, cmd):
    if cmd.p1 not in proto.SEAL_MODES or cmd.p2 not in (0, 1):
        raise BadP1P2("P1 is the seal mode, P2 01 asks for a ready-ticket")
    items = tlv.decode_all(cmd.data)
    if len(items) != 1 or items[0][0] != proto.TAG_AMOUNT or len(items[0][1]) != proto.U32_SIZE:
        raise errors.TLVError("MAKE CHALLENGE takes the amount, 85 04 x")
    x = tlv.uint(items[0][1])
    return wallet("recipient").make_challenge(applet.card, cmd.p1, x, cmd.p2 == 1)


def handle_pay(applet, cmd):
    check_p1p2(cmd)
    return wallet("payer").pay(applet.card, cmd.data)


def handle_accept(applet, cmd):
    check_p1p2(cmd)
    parts = _records(cmd.data)
    if (
        len(parts) < 2
        or parts[0][0] != proto.TAG_CHALL_ID
        or len(parts[0][1]) != 2 + proto.CHALL_ID_SIZE
        or parts[1][0] != proto.TAG_PAYMENT
    ):
        raise errors.TLVError(
            "ACCEPT takes the expected ChallID, the payment, then optionally a ticket and an RTT"
        )
    ticket = rtt = None
    for tag, value in parts[2:]:
        if tag == proto.TAG_TICKET and ticket is None and rtt is None:
            ticket = value
        elif tag == proto.TAG_RTT and rtt is None and len(value) == 2 + proto.U32_SIZE:
            # A tap's slowest APDU round trip (microseconds), for the log record.
            rtt = tlv.uint(value[2:])
        else:
            raise errors.TLVError("ACCEPT: after the payment, a ticket, then an RTT of 4 bytes")
    expected = parts[0][1][2:]
    x, balance = wallet("recipient").accept(applet.card, parts[1][1], expected, ticket, rtt)
    # The amount credited comes back with the balance: the terminal reports what the card
    # took, never what it asked for.
    return tlv.encode(proto.TAG_AMOUNT, tlv.u32(x)) + tlv.encode(
        proto.TAG_BALANCE, tlv.u32(balance)
    )


# INS -> handler. SELECT and GET RESPONSE come with CLA 00, every other command with CLA 80.
_HANDLERS = {
    proto.INS_SELECT: handle_select,
    proto.INS_GET_INFO: handle_get_info,
    proto.INS_MAKE_CHALLENGE: handle_make_challenge,
    proto.INS_PAY: handle_pay,
    proto.INS_ACCEPT: handle_accept,
}
# The commands outside a transfer, which purse.admin answers: loaded for the command only,
# since a card trades far more often than it is provisioned or synced.
ADMIN = bytes((
    proto.INS_GENERATE_KEY, proto.INS_INSTALL_TRUST, proto.INS_INSTALL_CERTIFICATE,
    proto.INS_INSTALL_RISK, proto.INS_LOCK, proto.INS_GET_NONCE, proto.INS_TAKE_TICKET,
    proto.INS_INSTALL_REVOCATION, proto.INS_LOAD_VOUCHER, proto.INS_TAKE_RECEIPT,
    proto.INS_READ_OUTBOX, proto.INS_READ_JOURNAL, proto.INS_TAKE_STAMP, proto.INS_GET_LOG,
))  # fmt: skip
_ISO_CLASS = (proto.INS_SELECT, proto.INS_GET_RESPONSE)
# What the card answers over the RF field (process_remote): what a tap's reader, the other
# party's, needs of a payer (GET RESPONSE and chaining are handled before a command is
# dispatched). Anything else there is refused 6985 and logged (docs/PROTOCOL.md section 8).
_REMOTE = bytes((proto.INS_SELECT, proto.INS_PAY))


class Applet:
    """The card as its transport sees it: bytes of a command APDU in, a response APDU out."""

    remote = False  # True while a command comes over the RF field (process_remote): a peer's.

    def __init__(self, card):
        self.card = card
        self.selected = False
        self._chain = apdu.ChainAssembler()
        self._responses = apdu.ResponseQueue()

    @host_only
    def reset(self):
        """What a power-up does: deselect, drop chains and pending responses, reread state."""
        self.selected = False
        self._chain.reset()
        self._responses.clear()
        self.card.load()

    def swap_session(self, session=None):
        """Set the link's session aside (the selection, a chained command being assembled, a
        long response being read) and start `session`, one set aside before, or a fresh one;
        returns the one set aside.

        A board that serves a reader in the RF field (purse.tap.serve) starts the reader's
        session fresh, as an ISO 14443-4 activation does, and gives its wired link its own
        back afterwards. One session for both let a reader skip SELECT because the host had
        selected, and let the next reader read with GET RESPONSE what a reader pulled away
        before reading (a payment, say), or find a half-assembled chain in its way.

        The chain's buffer (1 KiB) is shared with the new session unless the link set aside is
        in the middle of a chain, whose parts then stay in their own: a small heap could not
        spare a second buffer at a transfer's peak. What a shared buffer holds is dropped at
        each swap, so no session continues another's chain. Everything new is made before
        anything is set aside, so a MemoryError changes nothing."""
        chain = self._chain
        if session is None:
            fresh = apdu.ChainAssembler() if chain.in_progress else chain
            session = (False, fresh, apdu.ResponseQueue())
        old = (self.selected, chain, self._responses)
        self.selected, self._chain, self._responses = session
        if self._chain is chain:
            chain.reset()
        return old

    def process_remote(self, raw):
        """process() for a command from the RF field, a peer's: only what a tap's reader
        needs of a payer is answered (_REMOTE)."""
        self.remote = True
        try:
            return self.process(raw)
        finally:
            self.remote = False

    def process(self, raw):
        try:
            cmd = apdu.parse_command(raw)
        except errors.APDUError as exc:
            self.card.note(0, log_reason(exc), proto.SW_WRONG_LENGTH)
            return apdu.build_response(b"", proto.SW_WRONG_LENGTH)
        if cmd.ins == proto.INS_GET_RESPONSE and cmd.cla == proto.CLA_ISO:
            if not self._responses.pending:
                return apdu.build_response(b"", proto.SW_WRONG_STATE)
            return self._responses.next_part(cmd.le or 256)
        self._responses.clear()
        try:
            whole = self._chain.feed(cmd)
        except errors.APDUError as exc:
            self.card.note(cmd.ins, log_reason(exc), proto.SW_LAST_COMMAND_EXPECTED)
            return apdu.build_response(b"", proto.SW_LAST_COMMAND_EXPECTED)
        if whole is None:
            return apdu.build_response(b"", proto.SW_OK)
        data, sw = self._dispatch(whole)
        return self._responses.start(data, sw)

    def _dispatch(self, cmd):
        handler = _HANDLERS.get(cmd.ins)
        if handler is None and cmd.ins not in ADMIN:
            return b"", proto.SW_INS_UNSUPPORTED
        cla = proto.CLA_ISO if cmd.ins in _ISO_CLASS else proto.CLA_PROPRIETARY
        if cmd.cla != cla:
            return b"", proto.SW_CLA_UNSUPPORTED
        if not self.selected and cmd.ins != proto.INS_SELECT:
            return b"", proto.SW_WRONG_STATE
        try:
            if self.remote and cmd.ins not in _REMOTE:
                # A reader in the field would read the holder's balance and card id (GET
                # INFO), payments (READ JOURNAL, READ OUTBOX) or refusals (GET LOG), or
                # disturb the holder's own exchanges (GET NONCE, MAKE CHALLENGE).
                raise errors.WrongState("not answered over the RF field")
            if handler is None:
                if _COLLECT:
                    # A profile with a large heap collects only when it is full (its link
                    # does not before each command): provisioning then makes each anchor's
                    # 8 KB table in whatever the last command's garbage left, unless it goes
                    # first. A command outside a transfer has the time.
                    gc.collect()
                handler = __import__("purse.admin", None, None, ("handle",)).handle
            return handler(self, cmd), proto.SW_OK
        except errors.PurseError as exc:
            sw = status_for(exc)
            if sw == proto.SW_NO_MATCH and cmd.ins == proto.INS_SELECT:
                # SELECT's NotFound is ISO 7816-4's "file or application not found" (no class of
                # its own: a class costs a small board's heap more than this line). Not logged:
                # a terminal trying the AIDs it knows is routine, and would push the card's
                # last refusals out of its short log.
                return b"", proto.SW_NOT_FOUND
            self.card.note(cmd.ins, log_reason(exc), sw)
            return b"", sw
        finally:
            if _UNLOAD:
                _unload_transient()
