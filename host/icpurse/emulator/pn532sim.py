"""A simulated PN532, for tests and the emulator: the chip as its host sees it over the bus.

`SimulatedPN532` is a transport for purse.pn532.PN532 (wakeup, write, wait_ready, read) and,
behind a pty (emulator.pn532pty), a chip that other hosts such as nfcpy drive. It follows the
NXP PN532 User Manual UM0701-02 for every command the driver or nfcpy sends: it acknowledges a
well-formed command with ACK and answers it as the chip does, ignores a damaged frame (the host
sees no ACK and sends it again; only a host sends NACK), answers a command it does not know or
whose parameters it rejects with the syntax-error frame (TFI 7F), takes and sends extended
frames, and keeps SetParameters' flags, RFConfiguration's timeouts and retries and the CIU
registers across commands. docs/HARDWARE.md lists each command: as the manual says, or how it
is simplified and why.

Two chips in one `Field` find each other over a simulated RF link that carries ISO 14443-4
frames (without CRC): a reader's InListPassiveTarget activates a chip waiting in TgInitAsTarget
and, with automatic RATS, sends RATS and returns the ATS; its InDataExchange runs ISO-DEP
(I-blocks, chaining, R(ACK), S(DESELECT) on InRelease) and its InCommunicateThru sends a frame
as it is. A target chip in ISO 14443-4 PICC mode (SetParameters' PICC and automatic RATS flags)
answers RATS and the ISO-DEP blocks itself and hands the APDUs to its host (TgGetData /
TgSetData); any other target hands each frame to its host as it is (TgInitAsTarget,
TgGetInitiatorCommand, TgResponseToInitiator), as nfcpy's card emulation wants. A reader waits
for each answer no longer than the frame waiting time (the FWT of the target's ATS, or
RFConfiguration's timeout for InCommunicateThru) and answers status 01 after it, on the
Field's clock, which a test may replace by a virtual one.

Chips run on their boards' threads, so the field is a condition variable: a command that waits
(TgInitAsTarget, TgGetData, InDataExchange ...) answers when the other side has acted or its
time is up, and the host's wait_ready times out as with the real chip.

Faults on demand (`faults`, a dict of counts): "lost" drops the next command frames as if they
reached the chip damaged (no ACK: the host must send them again); "checksum" damages the next
answers' data checksum (the host asks again with NACK); "silence" drops the next answers;
"leave" takes the target out of the field after it answered the given number of
InDataExchanges — the last answer lost on the way, as when a card is pulled away mid-exchange.
"""

import threading
import time

from purse import pn532

FIRMWARE = bytes((0x32, 0x01, 0x06, 0x07))  # PN532 v1.6, ISO 14443-A/B and ISO 18092.
RATS = b"\xe0\x80"  # What a reader sends first to an ISO 14443-4 card (FSD 256, CID 0).
# The ATS a simulated target in PICC mode answers RATS with: FSC 256 (T0 78), 106 kbps only
# (TA 80), FWI 14 and SFGI 0 (TB E0), CID supported (TC 02). FWI 14 is ISO 14443-4's longest
# frame waiting time (4.95 s): the simulated target sends no S(WTX), so a host that takes
# longer than that to answer is timed out by the reader.
ATS = b"\x05\x78\x80\xe0\x02"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"

# RFConfiguration: each item's data length (UM0701-02, 7.3.1).
_RF_ITEM_LENGTHS = {0x01: 1, 0x02: 3, 0x04: 1, 0x05: 3, 0x0A: 11, 0x0B: 8, 0x0C: 3, 0x0D: 9}
_CIU_FIFO_DATA = 0x6339
_SENS_REQ = 0x26

# Commands simulated (code: name); any other code is answered with the syntax-error frame.
DIAGNOSE = 0x00
GET_GENERAL_STATUS = 0x04
READ_REGISTER = 0x06
WRITE_REGISTER = 0x08
SET_SERIAL_BAUDRATE = 0x10
POWER_DOWN = 0x16
RF_CONFIGURATION = 0x32
IN_COMMUNICATE_THRU = 0x42
IN_DESELECT = 0x44
TG_GET_INITIATOR_COMMAND = 0x88
TG_RESPONSE_TO_INITIATOR = 0x90

STATUS_OK = 0x00
STATUS_TIMEOUT = pn532.STATUS_TIMEOUT
STATUS_NOT_ACCEPTABLE = 0x27
STATUS_RELEASED = pn532.STATUS_RELEASED


def timeout_index_s(index):
    """RFConfiguration's timeout code in seconds: 100 us * 2^(n-1), 0 for none (7.3.1)."""
    return None if index == 0 else 100e-6 * (1 << (index - 1))


def ats_fwt_s(ats):
    """The frame waiting time an ATS announces: 4096/fc * 2^FWI (ISO 14443-4, 5.2.5); FWI 4
    when TB is absent."""
    fwi = 4
    if len(ats) > 1:
        t0 = ats[1]
        tb = 2 + (1 if t0 & 0x10 else 0)
        if t0 & 0x20 and len(ats) > tb:
            fwi = ats[tb] >> 4
    if fwi > 14:
        fwi = 4
    return 4096 / 13.56e6 * (1 << fwi)


def ats_fsc(ats):
    fsci = ats[1] & 0x0F if len(ats) > 1 else 2
    return (16, 24, 32, 40, 48, 64, 96, 128, 256)[min(fsci, 8)]


class Field:
    """The RF field two chips share; `clock` (seconds) times the frame waiting time."""

    def __init__(self, clock=time.monotonic):
        self.cond = threading.Condition()
        self.target = None
        self.clock = clock

    def notify(self):
        self.cond.notify_all()


class _Rejected(Exception):
    """A command the chip answers with its syntax-error frame."""


def _answer_now(data):
    yield data


class SimulatedPN532:
    def __init__(self, field, faults=None, uid3=b"\x01\x02\x03", ats=ATS):
        self.field = field
        self.faults = dict(faults or {})
        self.outbox = []  # Frames the chip offers its host, oldest first.
        self.last = None  # The last answer frame, sent again on the host's NACK.
        self.pending = None  # A generator of the answer: None while it is not ready.
        self.pending_code = None
        self.awake = False
        self.written = []
        # The chip's settings, as at reset.
        self.flags = pn532.FLAGS_READER
        self.rf_timeouts = [0x00, 0x0B, 0x0A]  # RFU, ATR_RES timeout, retry timeout.
        self.rf_retries = [0xFF, 0x01, 0xFF]  # ATR, PSL, passive activation.
        self.rf_field = 0
        self.registers = {}
        self.baudrate = 4  # 115200 baud, the HSU's speed at reset.
        self.powered_down = False
        # Target side.
        self.uid3 = uid3
        self.ats = ats
        self.sens_res = b"\x04\x00"
        self.sel_res = pn532.SEL_RES_ISO14443_4
        self.picc = False  # ISO-DEP handled by the chip (PICC and automatic RATS).
        self.waiting = False  # In TgInitAsTarget, not yet selected by a reader.
        self.selected = False  # Selected by a reader, TgInitAsTarget not yet answered.
        self.active = False
        self.released = False
        self.init_answer = None
        self.rx = []  # APDUs (PICC) or frames (otherwise) from the reader, for the host.
        self.to_reader = []  # Frames for the reader.
        self.block = 0  # The PICC's ISO-DEP block number.
        self.chain_in = b""  # A chained command being received.
        self.chain_out = []  # The rest of a chained answer, sent on the reader's R(ACK).
        self.owes_answer = False
        self.last_rf = None
        self.fsd = 256
        # Initiator side.
        self.current = None  # The target listed by InListPassiveTarget.
        self.target_ats = None
        self.pcd_block = 0
        self.exchanges = 0

    # --- the transport interface ------------------------------------------------------------

    def wakeup(self):
        self.awake = True
        self.powered_down = False

    def write(self, data):
        data = bytes(data)
        self.written.append(data)
        with self.field.cond:
            if data == pn532.ACK:
                self._abort()
                return
            if data == pn532.NACK:
                if self.last is not None:
                    self.outbox.append(self.last)
                    self.field.notify()
                return
            if b"\x00\xff" not in data:
                return  # Not a frame (a wake-up write): the chip ignores it.
            self.powered_down = False
            try:
                _, body = pn532.decode_frame(data, tfi=0xD4)
            except pn532.PN532Error:
                return  # Damaged on the way: the chip ignores it and sends no ACK (6.2.1.3).
            if self._fault("lost"):
                return
            self.outbox.append(pn532.ACK)
            # A new command ends one the chip was still at (6.2.1.3).
            self.pending = None
            try:
                self.pending = self._command(body[0], bytes(body[1:]))
                self.pending_code = body[0]
            except _Rejected:
                self.outbox.append(ERROR_FRAME)
                self.last = ERROR_FRAME
            self._step()
            self.field.notify()

    def wait_ready(self, timeout_ms):
        # Answers that wait for a deadline (the frame waiting time) are looked at again every
        # few milliseconds as well as on each change in the field.
        with self.field.cond:
            end = time.monotonic() + timeout_ms / 1000.0
            while True:
                if self._ready():
                    return True
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.field.cond.wait(min(left, 0.002))

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

    def _abort(self):
        # The host's ACK aborts the command the chip is at (6.2.1.3); what it had not sent is
        # dropped. A chip waiting in TgInitAsTarget stops being a card in the field. An ACK
        # with no command running (nfcpy confirms SetSerialBaudrate so) changes nothing.
        if self.pending is not None and self.pending_code == pn532.TG_INIT_AS_TARGET:
            self._leave_field()
        self.pending = None
        self.outbox = []
        self.field.notify()

    def _leave_field(self):
        if self.field.target is self:
            self.field.target = None
        self.waiting = self.selected = self.active = False
        self.field.notify()

    # --- the host link ------------------------------------------------------------------------

    def _fault(self, name):
        if self.faults.get(name, 0) > 0:
            self.faults[name] -= 1
            return True
        return False

    def _ready(self):
        self._step()
        return bool(self.outbox)

    def _step(self):
        # The command runs on: a reader's frame goes out on the RF link as soon as the command
        # is taken, and an answer that is ready joins the frames for the host.
        if self.pending is None:
            return
        try:
            data = next(self.pending)
        except StopIteration:
            data = None
            self.pending = None
        if data is None:
            return
        self.pending = None
        if self._fault("silence"):
            return
        frame = pn532.encode_frame(data, tfi=0xD5)
        self.last = frame
        if self._fault("checksum"):
            frame = frame[:-2] + bytes(((frame[-2] + 1) & 0xFF,)) + frame[-1:]
        self.outbox.append(frame)

    # --- commands -----------------------------------------------------------------------------

    def _command(self, code, p):
        handler = _HANDLERS.get(code)
        if handler is None:
            raise _Rejected()
        return handler(self, code + 1, p)

    def _diagnose(self, reply, p):
        if not p:
            raise _Rejected()
        if p[0] == 0x00:  # Communication line test: the parameters come back.
            return _answer_now(bytes((reply,)) + p)
        if p[0] in (0x01, 0x02) and len(p) == 1:  # ROM and RAM tests: status 00, good.
            return _answer_now(bytes((reply, 0x00)))
        raise _Rejected()

    def _firmware(self, reply, p):
        return _answer_now(bytes((reply,)) + FIRMWARE)

    def _general_status(self, reply, p):
        targets = b""
        if self.current is not None:
            targets = b"\x01\x01\x00\x00\x00"  # NbTg, then Tg, BrRx, BrTx, type (106 kbps A).
        else:
            targets = b"\x00"
        return _answer_now(bytes((reply, 0x00, 1 if self.rf_field & 1 else 0)) + targets + b"\x00")

    def _read_register(self, reply, p):
        if not p or len(p) % 2:
            raise _Rejected()
        values = bytes(self.registers.get((p[i] << 8) | p[i + 1], 0) for i in range(0, len(p), 2))
        return _answer_now(bytes((reply,)) + values)

    def _write_register(self, reply, p):
        if not p or len(p) % 3:
            raise _Rejected()
        for i in range(0, len(p), 3):
            self.registers[(p[i] << 8) | p[i + 1]] = p[i + 2]
        return _answer_now(bytes((reply,)))

    def _set_serial_baudrate(self, reply, p):
        if len(p) != 1 or p[0] > 8:
            raise _Rejected()
        self.baudrate = p[0]  # Takes effect after the host's ACK; a pty has no speed.
        return _answer_now(bytes((reply,)))

    def _set_parameters(self, reply, p):
        if len(p) != 1:
            raise _Rejected()
        self.flags = p[0]
        return _answer_now(bytes((reply,)))

    def _sam_configuration(self, reply, p):
        if not 1 <= len(p) <= 3 or not 1 <= p[0] <= 4:
            raise _Rejected()
        return _answer_now(bytes((reply,)))

    def _power_down(self, reply, p):
        if not 1 <= len(p) <= 2:
            raise _Rejected()
        self.powered_down = True
        return _answer_now(bytes((reply, 0x00)))

    def _rf_configuration(self, reply, p):
        if not p or _RF_ITEM_LENGTHS.get(p[0]) != len(p) - 1:
            raise _Rejected()
        if p[0] == 0x01:
            self.rf_field = p[1]
        elif p[0] == 0x02:
            self.rf_timeouts = list(p[1:4])
        elif p[0] == 0x05:
            self.rf_retries = list(p[1:4])
        return _answer_now(bytes((reply,)))

    # --- target side --------------------------------------------------------------------------

    def _tg_init_as_target(self, reply, p):
        if len(p) < 37:
            raise _Rejected()
        self.sens_res = bytes(p[1:3])
        self.uid3 = bytes(p[3:6])
        self.sel_res = p[6]
        self.picc = bool(self.flags & pn532.PARAM_PICC and self.flags & pn532.PARAM_AUTO_RATS)
        self.waiting, self.selected, self.active, self.released = True, False, False, False
        self.rx, self.to_reader, self.chain_in, self.chain_out = [], [], b"", []
        self.block, self.owes_answer, self.init_answer = 0, False, None
        self.field.target = self
        self.field.notify()

        def activated():
            while self.init_answer is None:
                yield None
            yield bytes((reply,)) + self.init_answer

        return activated()

    def _tg_get_data(self, reply, p):
        return self._host_receives(reply, picc=True)

    def _tg_get_initiator_command(self, reply, p):
        return self._host_receives(reply, picc=False)

    def _host_receives(self, reply, picc):
        if self.picc != picc and self.active:
            return _answer_now(bytes((reply, STATUS_NOT_ACCEPTABLE)))

        def get():
            while True:
                if self.rx:
                    yield bytes((reply, STATUS_OK)) + self.rx.pop(0)
                    return
                if self.released or not self.active:
                    yield bytes((reply, STATUS_RELEASED))
                    return
                yield None

        return get()

    def _tg_set_data(self, reply, p):
        if not self.active or self.released:
            return _answer_now(bytes((reply, STATUS_RELEASED)))
        if not self.picc or not self.owes_answer:
            return _answer_now(bytes((reply, STATUS_NOT_ACCEPTABLE)))
        self.owes_answer = False
        size = self.fsd - 3  # PCB and the two CRC bytes.
        chunks = [p[i : i + size] for i in range(0, len(p), size)] or [b""]
        blocks = []
        for i, chunk in enumerate(chunks):
            more = 0x10 if i < len(chunks) - 1 else 0x00
            blocks.append(bytes((0x02 | more | (self.block ^ (i & 1)),)) + chunk)
        self.chain_out = blocks[1:]
        self._to_reader(blocks[0])
        return _answer_now(bytes((reply, STATUS_OK)))

    def _tg_response_to_initiator(self, reply, p):
        if not self.active and not self.selected:
            return _answer_now(bytes((reply, STATUS_RELEASED)))
        if self.picc:
            return _answer_now(bytes((reply, STATUS_NOT_ACCEPTABLE)))
        self._to_reader(bytes(p))
        return _answer_now(bytes((reply, STATUS_OK)))

    def _to_reader(self, frame):
        self.last_rf = frame
        self.to_reader.append(frame)
        self.field.notify()

    def rf_receive(self, frame):
        """A frame from the reader over the RF link (the field's lock held)."""
        if self.field.target is not self or not (self.selected or self.active):
            return  # Not in the field or not selected: nothing answers.
        if not self.active:
            # The first frame after anticollision completes TgInitAsTarget: a PICC-mode chip
            # answers RATS with its ATS itself; any other hands the frame to its host.
            if self.picc:
                if len(frame) != 2 or frame[0] != 0xE0:
                    return
                self.fsd = (16, 24, 32, 40, 48, 64, 96, 128, 256)[min(frame[1] >> 4, 8)]
                self._to_reader(self.ats)
                mode = pn532.MODE_PICC
            else:
                mode = pn532.MODE_PICC if self.flags & pn532.PARAM_PICC else 0x00
            self.selected, self.active = False, True
            self.init_answer = bytes((mode,)) + frame
            self.field.notify()
            return
        if not self.picc:
            self.rx.append(frame)
            self.field.notify()
            return
        self._picc_block(frame)

    def _picc_block(self, frame):
        if not frame:
            return
        pcb = frame[0]
        if pcb & 0xE2 == 0x02:  # I-block.
            self.block = pcb & 1
            if pcb & 0x10:  # Chaining: more follows; acknowledge this part.
                self.chain_in += frame[1:]
                self._to_reader(bytes((0xA2 | self.block,)))
                self.block ^= 1
                return
            self.rx.append(self.chain_in + frame[1:])
            self.chain_in = b""
            self.owes_answer = True
            self.field.notify()
        elif pcb & 0xE6 == 0xA2:  # R-block.
            if pcb & 0x10:  # R(NAK): the last block again, or R(ACK) if none.
                self._to_reader(self.last_rf or bytes((0xA2 | self.block,)))
            elif self.chain_out:  # R(ACK): the next part of a chained answer.
                block = self.chain_out.pop(0)
                self.block = block[0] & 1
                self._to_reader(block)
        elif pcb & 0xF7 == 0xC2:  # S(DESELECT): answered, and the host's card is released.
            self._to_reader(bytes((pcb,)))
            self.active, self.released = False, True
            if self.field.target is self:
                self.field.target = None
            self.field.notify()

    # --- initiator side -----------------------------------------------------------------------

    def _rf_send(self, target, frame):
        """Send a frame to the target; the caller then waits with _rf_answer."""
        target.to_reader = []  # An answer that came too late for the last frame is lost.
        target.rf_receive(frame)

    def _rf_answer(self, target, deadline):
        """A generator step: the target's answer, None while waiting, or False once the
        deadline (on the field's clock; None for none) has passed."""
        if target is not None and target.to_reader:
            return target.to_reader.pop(0)
        if deadline is not None and self.field.clock() >= deadline:
            return False
        return None

    def _await(self, target, deadline):
        """Wait for the target's answer (a generator: `answer = yield from ...`), yielding None
        at each step meanwhile; the answer, or False once the deadline has passed."""
        while True:
            answer = self._rf_answer(target, deadline)
            if answer is not None:
                return answer
            yield None

    def _deadline(self, seconds):
        return None if seconds is None else self.field.clock() + seconds

    def _in_list_passive_target(self, reply, p):
        if len(p) < 2 or p[0] not in (1, 2) or p[1] > 4:
            raise _Rejected()
        forever = self.rf_retries[2] == 0xFF

        def listing():
            self.current = self.target_ats = None
            while True:
                target = self.field.target
                if p[1] == pn532.BAUD_106_TYPE_A and target is not None and target.waiting:
                    break
                if not forever:
                    # No card: the SENS_REQ the chip sent is still in the CIU's FIFO.
                    self.registers[_CIU_FIFO_DATA] = _SENS_REQ
                    yield bytes((reply, 0))
                    return
                yield None
            target.waiting, target.selected = False, True
            self.field.notify()
            self.current = target
            ats = b""
            if self.flags & pn532.PARAM_AUTO_RATS and target.sel_res & 0x20:
                self._rf_send(target, RATS)
                deadline = self._deadline(timeout_index_s(self.rf_timeouts[2]))
                answer = yield from self._await(target, deadline)
                if answer is False:
                    self.current = None
                    yield bytes((reply, 0))
                    return
                ats = answer
                self.target_ats = ats
                self.pcd_block = 0
            nfcid = b"\x08" + target.uid3
            yield (
                bytes((reply, 1, 1, target.sens_res[1], target.sens_res[0], target.sel_res))
                + bytes((len(nfcid),)) + nfcid + ats
            )  # fmt: skip

        return listing()

    def _in_data_exchange(self, reply, p):
        if not p:
            raise _Rejected()
        target = self.current
        if p[0] & 0x3F != 1 or target is None:
            return _answer_now(bytes((reply, STATUS_NOT_ACCEPTABLE)))
        data = p[1:]
        self.exchanges += 1
        leaving = self.faults.get("leave")
        if leaving is not None and self.exchanges >= leaving:
            return self._exchange_then_leave(reply, target, data)
        if self.target_ats is None:
            return self._thru(reply, target, data, timeout_index_s(self.rf_timeouts[2]))
        return self._iso_dep(reply, target, data)

    def _exchange_then_leave(self, reply, target, data):
        # The card leaves once it has answered: its last answer is lost on the way, and the
        # reader waits its frame waiting time for nothing.
        inner = self._iso_dep(reply, target, data)

        def lost():
            while True:
                answer = next(inner)
                if answer is not None and answer[1] == STATUS_OK:
                    target._leave_field()
                    target.released = True
                    self.current = None
                    break
                if answer is not None:
                    yield answer
                    return
                yield None
            deadline = self._deadline(ats_fwt_s(self.target_ats or b""))
            while self.field.clock() < deadline:
                yield None
            yield bytes((reply, STATUS_TIMEOUT))

        return lost()

    def _iso_dep(self, reply, target, data):
        fwt = ats_fwt_s(self.target_ats)
        size = ats_fsc(self.target_ats) - 3

        def exchange():
            chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
            answer = None
            for i, chunk in enumerate(chunks):
                more = 0x10 if i < len(chunks) - 1 else 0x00
                self._rf_send(target, bytes((0x02 | more | self.pcd_block,)) + chunk)
                deadline = self._deadline(fwt)
                while True:
                    answer = self._rf_answer(target, deadline)
                    if answer is False:
                        yield bytes((reply, STATUS_TIMEOUT))
                        return
                    if answer is not None and answer[:1] in (b"\xf2", b"\xfa"):
                        # S(WTX): granted, for WTXM times the frame waiting time.
                        self._rf_send(target, answer)
                        deadline = self._deadline(fwt * max(1, answer[-1] & 0x3F))
                        continue
                    if answer is not None:
                        break
                    yield None
                self.pcd_block ^= 1
            response = answer[1:]
            while answer[0] & 0x10:  # The card chains its answer: R(ACK) for the next part.
                self._rf_send(target, bytes((0xA2 | self.pcd_block,)))
                answer = yield from self._await(target, self._deadline(fwt))
                if answer is False:
                    yield bytes((reply, STATUS_TIMEOUT))
                    return
                self.pcd_block ^= 1
                response += answer[1:]
            yield bytes((reply, STATUS_OK)) + response

        return exchange()

    def _thru(self, reply, target, data, timeout_s):
        def exchange():
            if target is not None:
                self._rf_send(target, data)
            answer = yield from self._await(target, self._deadline(timeout_s))
            if answer is False:
                yield bytes((reply, STATUS_TIMEOUT))
            else:
                yield bytes((reply, STATUS_OK)) + answer

        return exchange()

    def _in_communicate_thru(self, reply, p):
        if not p:
            raise _Rejected()
        target = self.current
        if target is not None and target.field.target is not target:
            target = None  # The card left the field: the frame goes out, nothing answers.
        return self._thru(reply, target, p, timeout_index_s(self.rf_timeouts[2]))

    def _in_release(self, reply, p):
        if len(p) != 1:
            raise _Rejected()
        target = self.current
        if target is not None and self.target_ats is not None:
            self._rf_send(target, b"\xc2")  # S(DESELECT) to an ISO-DEP card.
        if target is not None and code_releases(reply):
            if not target.picc:
                target.released = True
            self.current = self.target_ats = None
        self.field.notify()
        return _answer_now(bytes((reply, STATUS_OK)))


def code_releases(reply):
    """InRelease forgets the target; InDeselect keeps it listed."""
    return reply == pn532.IN_RELEASE + 1


_HANDLERS = {
    DIAGNOSE: SimulatedPN532._diagnose,
    pn532.GET_FIRMWARE_VERSION: SimulatedPN532._firmware,
    GET_GENERAL_STATUS: SimulatedPN532._general_status,
    READ_REGISTER: SimulatedPN532._read_register,
    WRITE_REGISTER: SimulatedPN532._write_register,
    SET_SERIAL_BAUDRATE: SimulatedPN532._set_serial_baudrate,
    pn532.SET_PARAMETERS: SimulatedPN532._set_parameters,
    pn532.SAM_CONFIGURATION: SimulatedPN532._sam_configuration,
    POWER_DOWN: SimulatedPN532._power_down,
    RF_CONFIGURATION: SimulatedPN532._rf_configuration,
    pn532.IN_LIST_PASSIVE_TARGET: SimulatedPN532._in_list_passive_target,
    pn532.IN_DATA_EXCHANGE: SimulatedPN532._in_data_exchange,
    IN_COMMUNICATE_THRU: SimulatedPN532._in_communicate_thru,
    IN_DESELECT: SimulatedPN532._in_release,
    pn532.IN_RELEASE: SimulatedPN532._in_release,
    pn532.TG_INIT_AS_TARGET: SimulatedPN532._tg_init_as_target,
    pn532.TG_GET_DATA: SimulatedPN532._tg_get_data,
    pn532.TG_SET_DATA: SimulatedPN532._tg_set_data,
    TG_GET_INITIATOR_COMMAND: SimulatedPN532._tg_get_initiator_command,
    TG_RESPONSE_TO_INITIATOR: SimulatedPN532._tg_response_to_initiator,
}
