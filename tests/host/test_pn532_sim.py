"""The simulated PN532 byte for byte against UM0701-02: the answers the chip gives (no status
byte where it has none), its syntax-error frame, silence for a damaged frame, extended frames,
state kept across SetParameters / RFConfiguration / WriteRegister, the two roles meeting in a
field, and the frame waiting time on a virtual clock (no race with the machine's speed)."""

import threading
import time

import pytest
from _cards import World

from icpurse.emulator.pn532sim import ATS, ERROR_FRAME, Field, SimulatedPN532
from purse import pn532, proto, tap

ACK = bytes.fromhex("0000ff00ff00")


def host(data):
    body = b"\xd4" + bytes(data)
    return (
        bytes((0, 0, 0xFF, len(body), (-len(body)) & 0xFF))
        + body
        + bytes(((-sum(body)) & 0xFF, 0))
    )


def chip_frame(data):
    body = b"\xd5" + bytes(data)
    return (
        bytes((0, 0, 0xFF, len(body), (-len(body)) & 0xFF))
        + body
        + bytes(((-sum(body)) & 0xFF, 0))
    )


class Clock:
    """A virtual clock for the field: time moves only when the test says so."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def send(chip, hexdata):
    """Write one command; return the ACK the chip sent."""
    chip.write(host(bytes.fromhex(hexdata)))
    assert chip.wait_ready(0)
    return chip.read(6)


def answer(chip):
    """The chip's answer frame if it has one now, else None."""
    return chip.read(300) if chip.wait_ready(0) else None


def ask(chip, hexdata):
    assert send(chip, hexdata) == ACK
    return answer(chip)


def test_answers_as_the_manual_gives_them():
    chip = SimulatedPN532(Field())
    # SetSerialBaudrate is answered D5 11 alone; the host's ACK then confirms the change.
    assert ask(chip, "10 04") == bytes.fromhex("0000ff02fed5111a00")
    chip.write(ACK)
    assert answer(chip) is None
    # RFConfiguration, ReadRegister and WriteRegister have no status byte.
    assert ask(chip, "32 01 02") == chip_frame(b"\x33")
    assert ask(chip, "08 63 02 80 63 03 80") == chip_frame(b"\x09")
    assert ask(chip, "06 63 02 63 03 63 05") == chip_frame(b"\x07\x80\x80\x00")
    assert ask(chip, "12 00") == chip_frame(b"\x13") and chip.flags == 0
    assert ask(chip, "14 01 00 00") == chip_frame(b"\x15")
    assert ask(chip, "16 20") == chip_frame(b"\x17\x00")
    assert ask(chip, "02") == chip_frame(bytes.fromhex("03 32 01 06 07"))
    # Diagnose: the ROM test answers status 00; the line test echoes, here in an extended frame.
    assert ask(chip, "00 01") == chip_frame(b"\x01\x00")
    line = b"\x00" + bytes(i & 0xFF for i in range(262))
    chip.write(pn532.encode_frame(b"\x00" + line))
    assert chip.read(6) == ACK and chip.wait_ready(0)
    echoed = chip.read(300)
    assert echoed[3:5] == b"\xff\xff" and pn532.decode_frame(echoed) == ("data", b"\x01" + line)


@pytest.mark.parametrize(
    "command",
    ["60 01 01 10", "FE", "10 09", "32 02 00", "32 99 00", "06 63", "14 05", "4A 03 00", "12"],
    ids=["InAutoPoll", "unknown", "bad-baudrate", "rf-length", "rf-item", "odd-register",
         "sam-mode", "max-targets", "no-flags"],
)  # fmt: skip
def test_what_the_chip_rejects_gets_the_syntax_error_frame(command):
    chip = SimulatedPN532(Field())
    assert ask(chip, command) == ERROR_FRAME == bytes.fromhex("0000ff01ff7f8100")


def test_a_damaged_frame_gets_no_ack_and_the_chip_never_nacks():
    chip = SimulatedPN532(Field())
    damaged = bytearray(host(b"\x02"))
    damaged[-2] ^= 1
    chip.write(bytes(damaged))
    assert not chip.wait_ready(20)
    assert ask(chip, "02")[:6] != pn532.NACK  # The next, whole frame is taken.


def _target(field, flags="34", sens_res="04 00", sel_res="20", clock=None):
    card = SimulatedPN532(field)
    assert ask(card, "12 " + flags) == chip_frame(b"\x13")
    params = "04 " + sens_res + " A1 B2 C3 " + sel_res + " 00" * 30
    assert send(card, "8C " + params) == ACK
    return card


def test_the_reader_gets_the_targets_own_sens_res_and_the_ats_only_with_automatic_rats():
    field = Field()
    card = _target(field, sens_res="44 00")
    reader = SimulatedPN532(field)
    # Automatic RATS is on at reset: the ATS follows the NFCID1.
    listed = ask(reader, "4A 01 00")
    assert listed == chip_frame(bytes.fromhex("4B 01 01 00 44 20 04 08 A1 B2 C3") + ATS)
    # The card's host learns it was activated as an ISO 14443-4 PICC (mode 08) by RATS E0 80.
    assert answer(card) == chip_frame(bytes.fromhex("8D 08 E0 80"))
    # Without automatic RATS (nfcpy's SetParameters 00) the chip lists the card without ATS
    # and the card's TgInitAsTarget still waits for RATS.
    field2 = Field()
    card2 = _target(field2)
    reader2 = SimulatedPN532(field2)
    assert ask(reader2, "12 00") == chip_frame(b"\x13")
    assert ask(reader2, "4A 01 00") == chip_frame(
        bytes.fromhex("4B 01 01 00 04 20 04 08 A1 B2 C3")
    )
    assert answer(card2) is None
    assert ask(reader2, "42 E0 80") == chip_frame(bytes.fromhex("43 00") + ATS)
    assert answer(card2) == chip_frame(bytes.fromhex("8D 08 E0 80"))


def test_no_card_with_finite_retries_and_the_fifo_still_holds_sens_req():
    reader = SimulatedPN532(Field())
    assert ask(reader, "32 05 01 00 01") == chip_frame(b"\x33")
    assert ask(reader, "4A 01 00") == chip_frame(b"\x4b\x00")
    assert ask(reader, "06 63 39") == chip_frame(b"\x07\x26")


def _listed_pair(clock, ats=ATS):
    field = Field(clock)
    card = SimulatedPN532(field, ats=ats)
    assert ask(card, "12 34") == chip_frame(b"\x13")
    assert send(card, "8C 04 04 00 A1 B2 C3 20" + " 00" * 30) == ACK
    reader = SimulatedPN532(field)
    assert ask(reader, "4A 01 00")[5:8] == b"\xd5\x4b\x01"
    assert answer(card)[5:9] == bytes.fromhex("D5 8D 08 E0")
    return card, reader


def test_a_target_that_answers_after_the_frame_waiting_time_is_timed_out():
    clock = Clock()
    card, reader = _listed_pair(clock)  # ATS FWI 14: FWT 4.95 s.
    assert send(reader, "40 01 00 A4 04 00") == ACK
    assert ask(card, "86") == chip_frame(bytes.fromhex("87 00 00 A4 04 00"))
    clock.now += 4.0  # Far inside the frame waiting time: the reader still waits.
    assert answer(reader) is None
    assert ask(card, "8E 90 00") == chip_frame(b"\x8f\x00")
    assert answer(reader) == chip_frame(bytes.fromhex("41 00 90 00"))
    # The next APDU: the card's host is far too late (10 s), the reader answers status 01.
    assert send(reader, "40 01 00 B0 00 00") == ACK
    assert ask(card, "86") == chip_frame(bytes.fromhex("87 00 00 B0 00 00"))
    clock.now += 10.0
    assert answer(reader) == chip_frame(bytes.fromhex("41 01"))
    # Its late answer is lost: the next exchange does not take it for its own.
    assert ask(card, "8E 6A 82") == chip_frame(b"\x8f\x00")
    assert send(reader, "40 01 00 C0 00 00") == ACK
    assert answer(reader) is None


def test_in_communicate_thru_times_out_as_rf_configuration_says():
    clock = Clock()
    field = Field(clock)
    reader = SimulatedPN532(field)
    assert ask(reader, "32 02 00 0B 05") == chip_frame(b"\x33")  # 1.6 ms.
    assert send(reader, "42 26") == ACK
    clock.now += 0.0015
    assert answer(reader) is None
    clock.now += 0.0002
    assert answer(reader) == chip_frame(bytes.fromhex("43 01"))


def test_a_slow_pay_beyond_the_cards_frame_waiting_time_stops_the_tap():
    """A card whose ATS announces FWI 7 (38.7 ms, nfcpy's default) and whose PAY takes a second,
    twenty-five times as long: the reader's chip answers status 01, whatever the machine's
    speed (a slower machine only answers later)."""
    world = World()
    armed = tap.Armed()
    payer = world.new_card(b"P", 1000, confirm=armed)
    recipient = world.new_card(b"R")
    field = Field()
    card_chip = SimulatedPN532(field, ats=bytes.fromhex("05 78 80 70 02"))
    process = payer.applet.process

    def slow(apdu):
        if apdu[1:2] == bytes((proto.INS_PAY,)):
            time.sleep(1.0)
        return process(apdu)

    payer.applet.process = slow
    served = {}

    def serve():
        try:
            served["n"] = tap.serve(
                pn532.PN532(card_chip), payer.applet, b"\x01\x02\x03", 5000, 3000
            )
        except pn532.PN532Error as exc:
            served["error"] = exc

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    while not card_chip.waiting:
        time.sleep(0.001)
    armed.arm(100)
    reader = pn532.PN532(SimulatedPN532(field))
    with pytest.raises(tap.TapError, match="RF link failed: InDataExchange: status 01"):
        tap.receive(reader, recipient.client, 100, lambda: 0, lambda a, b: a - b)
    thread.join(10)
    assert recipient.client.info().balance == 0
