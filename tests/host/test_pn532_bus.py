"""The board glue's PN532 buses (firmware/pn532_bus.py) against a simulated chip: I2C with its
ready byte, SPI with its DATA_WRITE / STATUS_READ / DATA_READ prefixes sent least-significant
bit first (reversed in software over an MSB-first machine.SPI), and HSU with its wake-up
preamble — each carries the driver's whole set-up and an exchange."""

import sys
import time

import pytest
from fake_machine import FakeMachine
from mp_support import FIRMWARE

from icpurse import board_rules
from icpurse.emulator.pn532sim import Field, SimulatedPN532
from purse import pn532

sys.path.insert(0, str(FIRMWARE))
import pn532_bus


def _rev(data):
    return bytes(int("{:08b}".format(b)[::-1], 2) for b in data)


class FakeI2C:
    """machine.I2C's interface, the chip at 0x24."""

    def __init__(self, chip):
        self.chip = chip

    def writeto(self, address, data):
        assert address == 0x24
        self.chip.write(bytes(data))

    def readfrom_into(self, address, buf):
        assert address == 0x24
        ready = self.chip.wait_ready(0)
        buf[0] = 1 if ready else 0
        if len(buf) > 1:
            frame = self.chip.read(len(buf) - 1) if ready else b""
            buf[1:] = (frame + bytes(len(buf)))[: len(buf) - 1]


class FakeSPI:
    """machine.SPI sending most-significant bit first: what reaches the chip is bit-reversed
    by the wire order, so the driver must reverse first."""

    def __init__(self, chip):
        self.chip = chip
        self.selected = False
        self.mode = None

    def write(self, data):
        data = _rev(bytes(data))  # LSB-first on the wire, as the PN532 reads it.
        self.mode = data[0]
        if self.mode == 0x01:
            self.chip.write(data[1:])

    def readinto(self, buf):
        if self.mode == 0x02:
            out = bytes((1 if self.chip.wait_ready(0) else 0,))
        else:
            out = (self.chip.read(len(buf)) + bytes(len(buf)))[: len(buf)]
        buf[:] = _rev(out)


class Pin:
    def __init__(self):
        self.values = []

    def value(self, v):
        self.values.append(v)


class FakeUART:
    def __init__(self, chip):
        self.chip = chip
        self.rx = b""
        self.woken = False

    def write(self, data):
        data = bytes(data)
        if data.startswith(b"\x55\x55"):
            self.woken = True
            return
        self.chip.write(data)

    def any(self):
        while self.chip.wait_ready(0):
            self.rx += self.chip.read(1024)
        return len(self.rx)

    def read(self, n):
        out, self.rx = self.rx[:n], self.rx[n:]
        return out


def test_i2c_transport():
    sim = SimulatedPN532(Field())
    transport = pn532_bus.I2CTransport(pn532_bus.I2CDevice(FakeI2C(sim), 0x24))
    chip = pn532.PN532(transport)
    assert chip.begin() == (0x32, 1, 6, 7)
    assert sim.written[:2] == [b"\x00", pn532.encode_frame(b"\x02")]  # Wake-up, then a frame.


def test_spi_transport_reverses_bits_for_an_msb_first_bus():
    sim = SimulatedPN532(Field())
    cs = Pin()
    transport = pn532_bus.SPITransport(pn532_bus.SPIDevice(FakeSPI(sim), cs, reverse=True))
    chip = pn532.PN532(transport)
    assert chip.begin() == (0x32, 1, 6, 7)
    assert sim.written[1] == pn532.encode_frame(b"\x14\x01\x14\x01")
    assert cs.values[0] == 1 and cs.values[1:3] == [0, 1]  # Idle high, selected per transfer.


def test_hsu_transport_wakes_the_chip_and_reads_whole_frames():
    sim = SimulatedPN532(Field())
    uart = FakeUART(sim)
    chip = pn532.PN532(pn532_bus.HSUTransport(uart))
    assert chip.begin() == (0x32, 1, 6, 7)
    assert uart.woken


class OneByOneUART(FakeUART):
    """A UART whose any() says 1 however many bytes wait, as MicroPython's docs allow."""

    def any(self):
        return min(1, super().any())


def test_hsu_transport_takes_what_waits_in_one_poll_even_if_any_says_1():
    sim = SimulatedPN532(Field())
    uart = OneByOneUART(sim)
    transport = pn532_bus.HSUTransport(uart)
    transport.write(pn532.encode_frame(bytes((pn532.GET_FIRMWARE_VERSION,))))
    # The ACK and the answer both wait: one poll takes them, rather than a byte per poll (each
    # a millisecond apart), which made a tap's long answers take a quarter of a second.
    assert transport._fill()
    assert uart.rx == b""
    assert transport.read(6) == pn532.ACK and transport._fill()


def test_a_pty_stream_offers_all_that_waits():
    import os
    import tty

    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    stream = pn532_bus.FileStream(os.ttyname(slave))
    try:
        assert stream.any() == 0
        os.write(master, bytes(range(200)))
        time.sleep(0.05)
        assert stream.read(stream.any()) == bytes(range(200))
        assert stream.any() == 0
    finally:
        stream.file.close()
        os.close(master)
        os.close(slave)


def test_a_tap_over_two_buses():
    """A reader on I2C and a card on HSU in one field: list, exchange, release."""
    field = Field()
    reader_sim, card_sim = SimulatedPN532(field), SimulatedPN532(field)
    reader = pn532.PN532(pn532_bus.I2CTransport(pn532_bus.I2CDevice(FakeI2C(reader_sim), 0x24)))
    card = pn532.PN532(pn532_bus.HSUTransport(FakeUART(card_sim)))
    card.set_parameters(pn532.FLAGS_TARGET)
    # TgInitAsTarget as purse.pn532 sends it (PICC only, SENS_RES 04 00, NFCID1 08 0A 0B 0C,
    # SEL_RES 20), written by hand so the card does not wait for the reader here.
    params = b"\x04\x04\x00\x0a\x0b\x0c\x20" + bytes(30)
    card.transport.write(pn532.encode_frame(bytes((pn532.TG_INIT_AS_TARGET,)) + params))
    assert card.transport.wait_ready(100)
    card.transport.read(6)  # The ACK; the target now waits in the field.
    target, uid, ats = reader.list_target()
    assert target == 1 and uid == b"\x08\x0a\x0b\x0c" and ats[0] == len(ats)


def _bus_id(monkeypatch, options, board=None):
    machine = FakeMachine()
    monkeypatch.setitem(sys.modules, "machine", machine)
    pn532_bus.open_bus(options, board)
    return machine.made[0][:2]


SPI_PINS = {"bus": "spi", "sck": 18, "mosi": 23, "miso": 19, "cs": 4}


def test_open_bus_never_asks_an_esp32_for_spi_0(monkeypatch):
    """The esp32 port's SPI ids are 1 and 2 ("SPI(0) doesn't exist"); the old default was 0."""
    assert _bus_id(monkeypatch, SPI_PINS, "esp32") == ("spi", 2)
    assert _bus_id(monkeypatch, SPI_PINS, "esp32s3") == ("spi", 1)
    assert _bus_id(monkeypatch, SPI_PINS, "esp32c3") == ("spi", 1)
    assert _bus_id(monkeypatch, SPI_PINS, "some-esp32-board") == ("spi", 1)


def test_open_bus_keeps_hsu_off_the_repl_and_link_uarts(monkeypatch):
    hsu = {"bus": "hsu", "tx": 32, "rx": 33}
    assert _bus_id(monkeypatch, hsu, "esp32") == ("uart", 2)
    assert _bus_id(monkeypatch, hsu, "esp32s3") == ("uart", 2)
    assert _bus_id(monkeypatch, hsu, "esp32c3") == ("uart", 1)  # Two UARTs only.


def test_open_bus_on_rp2_takes_the_bus_id_the_pins_reach(monkeypatch):
    """GP0/GP1 are UART0's and GP8/GP9 UART1's: the old default, UART1, met "bad TX pin" with
    the README's GP0/GP1."""
    for board in ("pico", "picow", "pico2"):
        for tx in (0, 4, 8, 12, 16, 20):
            options = {"bus": "hsu", "tx": tx, "rx": tx + 1}
            want = board_rules.rp2_bus_id("uart", options)
            assert _bus_id(monkeypatch, options, board) == ("uart", want)
        for sck in (2, 10, 18, 26):
            options = dict(SPI_PINS, sck=sck)
            assert _bus_id(monkeypatch, options, board) == (
                "spi", board_rules.rp2_bus_id("spi", options))  # fmt: skip
        for scl in (1, 3, 5, 7):
            options = {"bus": "i2c", "scl": scl, "sda": scl - 1}
            assert _bus_id(monkeypatch, options, board) == (
                "i2c", board_rules.rp2_bus_id("i2c", options))  # fmt: skip
    assert _bus_id(monkeypatch, {"bus": "hsu", "tx": 0, "rx": 1}, "pico") == ("uart", 0)
    assert _bus_id(monkeypatch, {"bus": "hsu", "tx": 8, "rx": 9}, "pico") == ("uart", 1)


def test_open_bus_without_a_board_asks_the_interpreter(monkeypatch):
    monkeypatch.setattr(pn532_bus.sys, "platform", "rp2")
    assert _bus_id(monkeypatch, {"bus": "hsu", "tx": 0, "rx": 1}) == ("uart", 0)
    monkeypatch.setattr(pn532_bus.sys, "platform", "esp32")
    assert _bus_id(monkeypatch, SPI_PINS) == ("spi", 1)


def test_open_bus_uses_the_id_a_config_names(monkeypatch):
    assert _bus_id(monkeypatch, dict(SPI_PINS, id=1), "esp32") == ("spi", 1)
    assert _bus_id(monkeypatch, {"bus": "hsu", "id": 0, "tx": 8, "rx": 9}, "pico") == ("uart", 0)


def test_open_bus_refuses_an_unknown_bus_before_touching_machine(monkeypatch):
    monkeypatch.delitem(sys.modules, "machine", raising=False)
    with pytest.raises(ValueError, match="unknown PN532 bus"):
        pn532_bus.open_bus({"bus": "usb"})


class _Babble:
    """A UART whose line carries only noise: start codes with broken headers, and no frame."""

    def __init__(self, data):
        self.data = data

    def any(self):
        return min(len(self.data), 64)

    def read(self, n):
        out, self.data = self.data[:n], self.data[n:]
        return out

    def write(self, data):
        pass


def test_a_babbling_line_cannot_fill_the_heap_nor_hide_a_frame():
    """Attacker review: HSU kept every unframed byte; noise could grow it without bound."""
    noise = bytes.fromhex("00FFFFFF1234") * 1000
    transport = pn532_bus.HSUTransport(_Babble(noise))
    assert not transport.wait_ready(20)
    assert len(transport.buffer) <= 2 * pn532.MAX_FRAME
    ack = bytes.fromhex("0000FF00FF00")
    transport.stream.data = ack
    assert transport.wait_ready(20) and transport.read(6) == ack
