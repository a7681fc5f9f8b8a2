"""nfcpy (PyPI, unmodified) as an independent PN532 host of the simulated chip.

nfcpy's ContactlessFrontend opens the simulated PN532 behind a pty (emulator.pn532pty) through
its own tty transport, as it opens a PN532 on a serial port: its start-up (GetFirmwareVersion,
SAMConfiguration, SetSerialBaudrate, the Diagnose line test in an extended frame,
SetParameters, RFConfiguration, register reads and writes) must pass as on the chip. As the
reader it senses a card of this project as an ISO-DEP (Type 4A) target and runs SELECT and a
whole payment with its own ISO-DEP over InCommunicateThru; the card is the firmware's own
applet behind a simulated chip in PICC mode (purse.tap.serve, TgGetData / TgSetData).

nfcpy finds a serial device only by a name directly under /dev: each test links
/dev/ttyICP-<pid>-<n> to its pty and removes the link when it ends; links left by a process
that is gone are swept at the start of the session. Making them needs root (as in CI).
"""

import itertools
import os
import re
import threading
import time
from pathlib import Path

import pytest
from _cards import World
from mp_support import in_ci, need

from icpurse.emulator.pn532pty import PtyChip
from icpurse.emulator.pn532sim import Field, SimulatedPN532
from purse import pn532, proto, tap
from purse.client import CardClient, CardError

try:
    import nfc
    import nfc.clf
    import nfc.tag.tt4
except ImportError:  # Reported by the fixture below: a skip outside CI, a failure under it.
    nfc = None

DEV = Path("/dev")
LINK = re.compile(r"^ttyICP-(\d+)-\d+$")
_names = itertools.count(1)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def _swept_links():
    """Remove the /dev/ttyICP-<pid>-<n> links whose process is gone (a run that was killed
    before its finalizers ran)."""
    if os.geteuid() == 0:
        for entry in DEV.iterdir():
            match = LINK.match(entry.name)
            if match and entry.is_symlink() and not _alive(int(match.group(1))):
                entry.unlink()


@pytest.fixture
def nfcpy_port(_swept_links):
    """A function linking a pty under /dev for nfcpy; returns nfcpy's path for it."""
    need(nfc is not None, "nfcpy (pip install -e '.[dev]' installs nfcpy==1.0.4)")
    if os.geteuid() != 0:
        reason = "nfcpy opens serial ports only under /dev, and making a link there needs root"
        if in_ci():
            pytest.fail(reason + " (CI runs the tests as root)")
        pytest.skip(reason)
    made = []

    def link(pty_path):
        name = "ttyICP-%d-%d" % (os.getpid(), next(_names))
        (DEV / name).symlink_to(pty_path)
        made.append(DEV / name)
        return "tty:%s:pn532" % name

    yield link
    for path in made:
        path.unlink(missing_ok=True)


def _frames_sent(chip, code):
    """The host's command frames for one command code the chip received."""
    found = []
    for frame in chip.written:
        try:
            kind, body = pn532.decode_frame(frame, tfi=0xD4)
        except pn532.PN532Error:
            continue
        if kind == "data" and body[0] == code:
            found.append(body[1:])
    return found


def test_nfcpy_opens_and_closes_the_simulated_chip(nfcpy_port):
    with PtyChip(Field()) as reader:
        clf = nfc.ContactlessFrontend(nfcpy_port(reader.path))
        try:
            assert "PN532v1.6" in str(clf.device)
        finally:
            clf.close()
        chip = reader.chip
        # The Diagnose line test: 263 bytes of parameters, an extended frame each way.
        (line,) = _frames_sent(chip, 0x00)
        assert len(line) == 263 and line[0] == 0x00
        assert any(frame[3:5] == b"\xff\xff" for frame in chip.written)
        # nfcpy's own settings stayed with the chip: no automatic RATS, its timeouts.
        assert _frames_sent(chip, pn532.SET_PARAMETERS) == [b"\x00"] and chip.flags == 0
        assert chip.rf_retries == [0x01, 0x00, 0x01]
        # Closing: the baud rate set back (answered D5 11), then PowerDown.
        assert _frames_sent(chip, 0x10)[-1] == b"\x04" and chip.powered_down


class _Card:
    """A payer card of the firmware's own applet behind a simulated chip in PICC mode."""

    def __init__(self, world, field, amount):
        self.armed = tap.Armed()
        self.card = world.new_card(b"P", amount, confirm=self.armed)
        self.chip = SimulatedPN532(field)
        self.served = self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        try:
            self.served = tap.serve(
                pn532.PN532(self.chip), self.card.applet, b"\xa1\xb2\xc3",
                timeout_ms=10000, data_timeout_ms=5000,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - reported by the test.
            self.error = exc

    def start(self):
        self.thread.start()
        deadline = time.monotonic() + 5
        while not self.chip.waiting and time.monotonic() < deadline:
            time.sleep(0.002)


def _sense(clf):
    deadline = time.monotonic() + 5
    return clf.connect(
        rdwr={"targets": ["106A"], "on-connect": lambda tag: False},
        terminate=lambda: time.monotonic() > deadline,
    )


def test_nfcpy_reads_a_card_and_completes_a_payment(nfcpy_port):
    world = World()
    recipient = world.new_card(b"R")
    field = Field()
    payer = _Card(world, field, 5000)
    payer.start()
    with PtyChip(field) as reader:
        clf = nfc.ContactlessFrontend(nfcpy_port(reader.path))
        try:
            tag = _sense(clf)
            assert isinstance(tag, nfc.tag.tt4.Type4ATag), tag
            # The card's SENS_RES (04 00 as sent, 00 04 in the chip's answer), its NFCID1.
            assert bytes(tag.target.sens_res) == b"\x04\x00"
            assert bytes(tag.target.sdd_res) == b"\x08\xa1\xb2\xc3"
            assert tag.target.sel_res[0] & 0x20

            payer_client = CardClient(lambda apdu: bytes(tag.transceive(bytes(apdu))))
            assert payer_client.select().version
            # A reader in the field reads no balance or card id (docs/PROTOCOL.md section 8).
            with pytest.raises(CardError) as refused:
                payer_client.info()
            assert refused.value.sw == proto.SW_WRONG_STATE
            payer.armed.arm(300)
            challenge = recipient.client.make_challenge(300, proto.SEAL_ENCRYPTED)
            payment = payer_client.pay(challenge)
            credited, balance = recipient.client.accept(challenge, payment)
            assert (credited, balance) == (300, 300)
            # S(DESELECT) as nfcpy sends it: the card's host sees its reader release it.
            assert bytes(clf.exchange(bytearray(b"\xc2"), 0.1)) == b"\xc2"
        finally:
            clf.close()
        payer.thread.join(10)
        assert payer.error is None and payer.served >= 3
        assert payer.card.client.info().balance == 4700
        # nfcpy ran ISO-DEP itself: RATS and every block went through InCommunicateThru.
        thru = _frames_sent(reader.chip, 0x42)
        assert thru[0] == b"\xe0\x80" and len(thru) >= 4
        assert not _frames_sent(reader.chip, pn532.IN_DATA_EXCHANGE)


def test_nfcpy_as_the_card_answers_the_projects_reader(nfcpy_port):
    """nfcpy as the target (its own listen_tta over TgInitAsTarget, TgResponseToInitiator and
    TgGetInitiatorCommand), with a minimal ISO-DEP card written here around the firmware's
    applet: the project's reader (purse.tap.receive over the simulated chip) has it answer
    RATS, SELECT and PAY, and the payment completes."""
    world = World()
    armed = tap.Armed()
    payer = world.new_card(b"P", 1000, confirm=armed)
    recipient = world.new_card(b"R")
    field = Field()
    outcome = {}
    with PtyChip(field) as card_chip:
        clf = nfc.ContactlessFrontend(nfcpy_port(card_chip.path))

        def card():
            try:
                target = nfc.clf.LocalTarget("106A")
                target.sens_res = bytearray(b"\x04\x00")
                target.sdd_res = bytearray(b"\x08\x0a\x0b\x0c")
                target.sel_res = bytearray(b"\x20")
                # nfcpy's default ATS announces FWI 7 (38.7 ms); a payment takes longer.
                target.rats_res = bytearray(b"\x05\x78\x80\xe0\x02")
                activated = clf.listen(target, 5.0)
                command, served = activated.tt4_cmd, []
                while command and command[0] & 0xE2 == 0x02:  # I-blocks, until S(DESELECT).
                    response = payer.applet.process(bytes(command[1:]))
                    served.append(bytes(command[1 : 2 + 1]))
                    block = bytearray((0x02 | command[0] & 1,)) + response
                    command = clf.exchange(block, 5.0)
                outcome["served"] = served
                outcome["last"] = command
            except Exception as exc:  # noqa: BLE001 - reported by the test.
                outcome["error"] = exc

        thread = threading.Thread(target=card, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 5
            while not card_chip.chip.waiting and time.monotonic() < deadline:
                time.sleep(0.002)
            armed.arm(200)
            reader_chip = SimulatedPN532(field)
            credited, balance, _ = tap.receive(
                pn532.PN532(reader_chip), recipient.client, 200,
                lambda: time.perf_counter_ns() // 1000, lambda a, b: a - b,
            )  # fmt: skip
            thread.join(10)
        finally:
            clf.close()
    assert outcome.get("error") is None, outcome
    assert (credited, balance) == (200, 200)
    assert payer.client.info().balance == 800
    # RATS answered with nfcpy's ATS, then SELECT (A4) and PAY among the APDUs nfcpy served.
    assert reader_chip.target_ats is None  # Released at the end.
    instructions = [apdu[1] for apdu in outcome["served"]]
    assert instructions[0] == 0xA4 and proto.INS_PAY in instructions
    assert bytes(outcome["last"] or b"")[:1] in (b"\xc2", b"")
