"""A simulated PN532, for tests and the emulator: the chip as its host sees it over the bus.

`SimulatedPN532` is a transport for purse.pn532.PN532 (wakeup, write, wait_ready, read): it
parses the host's frames (checksums included), acknowledges each command with ACK — or NACK
when the frame arrived damaged — and answers the commands a wallet uses with the chip's own
frames and status codes. Two chips in one `Field` find each other: a reader's
InListPassiveTarget activates a chip waiting in TgInitAsTarget, its InDataExchange reaches the
target's TgGetData, and the target's TgSetData answers it. Chips run on their boards' threads,
so the field is a condition variable: a command that waits (TgInitAsTarget, TgGetData,
InDataExchange) answers when the other side has acted, or never, and the host's wait_ready
times out as with the real chip.

Faults on demand (`faults`, a dict of counts): "nack" answers the next commands with NACK;
"checksum" damages the next answers' data checksum; "silence" drops the next answers; "leave"
takes the target out of the field after it answered the given number of InDataExchanges — the
last answer lost on the way, as when a card is pulled away mid-exchange.
"""

import threading

from purse import pn532

FIRMWARE = bytes((0x32, 0x01, 0x06, 0x07))  # PN532 v1.6, ISO 14443-A/B and ISO 18092.
RATS = b"\xe0\x80"  # What a reader sends first to an ISO 14443-4 card.
ATS = b"\x05\x78\x80\x70\x02"


class Field:
    """The RF field two chips share."""

    def __init__(self):
        self.cond = threading.Condition()
        self.target = None

    def notify(self):
        self.cond.notify_all()


class SimulatedPN532:
    def __init__(self, field, faults=None, uid3=b"\x01\x02\x03"):
        self.field = field
        self.faults = dict(faults or {})
        self.outbox = []  # Frames the chip offers its host, oldest first.
        self.last = None  # The last answer frame, sent again on the host's NACK.
        self.pending = None  # A callable giving the answer data once it is ready.
        self.awake = False
        self.uid3 = uid3
        # Target side.
        self.waiting = False
        self.active = False
        self.released = False
        self.rx = []
        self.tx = []
        # Initiator side.
        self.exchanges = 0
        self.written = []

    # --- the transport interface ------------------------------------------------------------

    def wakeup(self):
        self.awake = True

    def write(self, data):
        data = bytes(data)
        self.written.append(data)
        with self.field.cond:
            if data == pn532.NACK:
                if self.last is not None:
                    self.outbox.append(self.last)
                return
            if data == pn532.ACK:
                # The host gave up on the command and aborts it (UM0701-02, 6.2.1.3): what the
                # chip had not sent is dropped, and a target leaves the field.
                self.pending = None
                self.outbox = []
                self._leave_field()
                return
            if b"\x00\xff" not in data:
                return  # Not a frame (a wake-up write): the chip ignores it.
            try:
                _, body = pn532.decode_frame(data, tfi=0xD4)
            except pn532.PN532Error:
                self.outbox.append(pn532.NACK)
                return
            if self._fault("nack"):
                self.outbox.append(pn532.NACK)
                return
            self.outbox.append(pn532.ACK)
            self.pending = self._command(body[0], body[1:])
            self.field.notify()

    def wait_ready(self, timeout_ms):
        with self.field.cond:
            return self.field.cond.wait_for(self._ready, timeout_ms / 1000.0)

    def read(self, n):
        with self.field.cond:
            if not self.outbox:
                return bytes(n)
            frame = self.outbox.pop(0)
            return frame[:n]

    def leave(self):
        """The chip's board is gone (its emulator ended): a card that left the field can be
        neither found nor answered, so a reader that comes next must not activate it."""
        with self.field.cond:
            self._leave_field()

    def _leave_field(self):
        if self.field.target is self:
            self.field.target = None
        self.waiting = self.active = False
        self.field.notify()

    # --- the chip -----------------------------------------------------------------------------

    def _fault(self, name):
        if self.faults.get(name, 0) > 0:
            self.faults[name] -= 1
            return True
        return False

    def _ready(self):
        if self.outbox:
            return True
        if self.pending is not None:
            data = self.pending()
            if data is not None:
                self.pending = None
                if self._fault("silence"):
                    return False
                frame = pn532.encode_frame(data, tfi=0xD5)
                self.last = frame
                if self._fault("checksum"):
                    frame = frame[:-2] + bytes(((frame[-2] + 1) & 0xFF,)) + frame[-1:]
                self.outbox.append(frame)
                return True
        return False

    def _now(self, data):
        return lambda: data

    def _command(self, code, params):
        reply = code + 1
        if code == pn532.GET_FIRMWARE_VERSION:
            return self._now(bytes((reply,)) + FIRMWARE)
        if code in (pn532.SAM_CONFIGURATION, pn532.SET_PARAMETERS):
            return self._now(bytes((reply,)))
        if code == pn532.TG_INIT_AS_TARGET:
            self.uid3 = bytes(params[3:6])
            self.waiting, self.active, self.released = True, False, False
            self.rx, self.tx = [], []
            self.field.target = self
            return lambda: bytes((reply, 0x04)) + RATS if self.active else None
        if code == pn532.TG_GET_DATA:

            def get():
                if self.rx:
                    return bytes((reply, 0x00)) + self.rx.pop(0)
                if self.released or not self.active:
                    return bytes((reply, pn532.STATUS_RELEASED))
                return None

            return get
        if code == pn532.TG_SET_DATA:
            if not self.active:
                return self._now(bytes((reply, pn532.STATUS_RELEASED)))
            self.tx.append(bytes(params))
            return self._now(bytes((reply, 0x00)))
        if code == pn532.IN_LIST_PASSIVE_TARGET:
            # Like the chip's default (endless retries), wait until a card is in the field.
            def activate():
                target = self.field.target
                if target is None or not target.waiting:
                    return None
                target.waiting, target.active = False, True
                self.field.notify()
                nfcid = b"\x08" + target.uid3
                return (
                    bytes((reply, 1, 1, 0x00, 0x04, pn532.SEL_RES_ISO14443_4, len(nfcid)))
                    + nfcid + ATS
                )  # fmt: skip

            return activate
        if code == pn532.IN_DATA_EXCHANGE:
            return self._in_data_exchange(reply, bytes(params[1:]))
        if code == pn532.IN_RELEASE:
            target = self.field.target
            if target is not None:
                target.active, target.released = False, True
            return self._now(bytes((reply, 0x00)))
        return self._now(bytes((reply, 0x27)))

    def _in_data_exchange(self, reply, data):
        target = self.field.target
        if target is None or not target.active:
            return self._now(bytes((reply, pn532.STATUS_TIMEOUT)))
        target.rx.append(data)
        self.exchanges += 1
        leaving = self.faults.get("leave")
        if leaving is not None and self.exchanges >= leaving:
            # The card leaves once it has answered: its last answer is lost on the way.
            def lost():
                if target.tx:
                    target.tx.pop(0)
                    target.active = False
                    self.field.target = None
                    return bytes((reply, pn532.STATUS_TIMEOUT))
                return None

            return lost

        def answer():
            if target.tx:
                return bytes((reply, 0x00)) + target.tx.pop(0)
            return None

        return answer
