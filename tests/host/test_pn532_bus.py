"""The board glue's PN532 buses (firmware/pn532_bus.py) against a simulated chip: I2C with its
ready byte, SPI with its DATA_WRITE / STATUS_READ / DATA_READ prefixes sent least-significant
bit first (reversed in software over an MSB-first machine.SPI), and HSU with its wake-up
preamble — each carries the driver's whole set-up and an exchange."""

import sys
import time

from mp_support import FIRMWARE

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
