"""Board glue: the buses a PN532 hangs on, as the transports purse.pn532 drives.

One small interface (wakeup, write, wait_ready, read) over three buses:
- **I2C** (address 0x24): a read starts with a status byte whose bit 0 says a frame is ready;
- **SPI** (mode 0, LSB first): each transfer starts with DATA_WRITE 01, STATUS_READ 02 or
  DATA_READ 03;
- **HSU** (UART, 115200 8N1): a byte stream, woken by a long preamble of 55 55 00 00 ...

On CircuitPython and on Linux hosts with Blinka, I2C and SPI come as adafruit-circuitpython-
busdevice's I2CDevice and SPIDevice; on MicroPython, `I2CDevice` and `SPIDevice` below offer
the same interface over machine.I2C and machine.SPI (MicroPython has no try_lock, configure or
writeto_then_readfrom, and RP2's hardware SPI cannot send LSB first, so bits are reversed in
software when the bus was made MSB-first). `open_bus(config, board)` builds what a board's
config.json asks for, including the emulator's HSU on a pseudo-terminal, with bus ids the
board's MicroPython port accepts when the config names none (`default_id`).
"""

import sys
import time

from purse.compat import const
from purse.pn532 import MAX_FRAME, frame_bounds

try:
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    sleep_ms = time.sleep_ms
except AttributeError:  # CPython, where the emulator runs this file too.

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_us():
        return time.perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b

    def sleep_ms(ms):
        time.sleep(ms / 1000)


_I2C_ADDRESS = 0x24
_SPI_DATA_WRITE = 0x01
_SPI_STATUS_READ = 0x02
_SPI_DATA_READ = 0x03
_WAKEUP = b"\x55\x55" + bytes(14)


def _reversed_bits(b):
    r = 0
    for _ in range(8):
        r = (r << 1) | (b & 1)
        b >>= 1
    return r


# Bit-reversed bytes, for an SPI that can only send most-significant bit first.
_REVERSED = bytes(_reversed_bits(b) for b in range(256))


def _reverse(data):
    return bytes(_REVERSED[b] for b in data)


class I2CDevice:
    """busdevice's I2CDevice interface over machine.I2C (MicroPython)."""

    def __init__(self, i2c, address):
        self.i2c = i2c
        self.address = address

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, buf):
        self.i2c.writeto(self.address, buf)

    def readinto(self, buf):
        self.i2c.readfrom_into(self.address, buf)


class SPIDevice:
    """busdevice's SPIDevice interface over machine.SPI and a chip-select pin (MicroPython);
    `reverse` when the SPI sends most-significant bit first but the PN532 wants LSB first."""

    def __init__(self, spi, cs, reverse=False):
        self.spi = spi
        self.cs = cs
        self.reverse = reverse
        cs.value(1)

    def __enter__(self):
        self.cs.value(0)
        return self

    def __exit__(self, *exc):
        self.cs.value(1)
        return False

    def write(self, buf):
        self.spi.write(_reverse(buf) if self.reverse else buf)

    def readinto(self, buf):
        self.spi.readinto(buf)
        if self.reverse:
            buf[:] = _reverse(buf)


def _poll(ready, timeout_ms, step_ms=2):
    start = ticks_ms()
    while True:
        if ready():
            return True
        if ticks_diff(ticks_ms(), start) >= timeout_ms:
            return False
        sleep_ms(step_ms)


class I2CTransport:
    def __init__(self, device):
        self.device = device

    def wakeup(self):
        # A PN532 in power-down wakes on its I2C address; the first write may be NACKed.
        try:
            with self.device as d:
                d.write(b"\x00")
        except OSError:
            pass
        sleep_ms(5)

    def write(self, frame):
        with self.device as d:
            d.write(frame)

    def _status(self):
        buf = bytearray(1)
        try:
            with self.device as d:
                d.readinto(buf)
        except OSError:
            return False  # The chip stretches or NACKs while it is busy.
        return buf[0] & 1 == 1

    def wait_ready(self, timeout_ms):
        return _poll(self._status, timeout_ms)

    def read(self, n):
        buf = bytearray(n + 1)
        with self.device as d:
            d.readinto(buf)
        return bytes(buf[1:])


class SPITransport:
    def __init__(self, device):
        self.device = device

    def wakeup(self):
        with self.device:
            pass  # Selecting the chip wakes it.
        sleep_ms(5)

    def write(self, frame):
        with self.device as d:
            d.write(bytes((_SPI_DATA_WRITE,)) + frame)

    def _status(self):
        buf = bytearray(1)
        with self.device as d:
            d.write(bytes((_SPI_STATUS_READ,)))
            d.readinto(buf)
        return buf[0] & 1 == 1

    def wait_ready(self, timeout_ms):
        return _poll(self._status, timeout_ms)

    def read(self, n):
        buf = bytearray(n)
        with self.device as d:
            d.write(bytes((_SPI_DATA_READ,)))
            d.readinto(buf)
        return bytes(buf)


# How much unframed input HSU keeps before it drops the oldest: two of the longest frames.
_MAX_PENDING = 2 * MAX_FRAME


class HSUTransport:
    """The PN532's UART: a byte stream, read frame by frame (`stream` has read(n) returning
    what is there or None, write(data) and any())."""

    def __init__(self, stream):
        self.stream = stream
        self.buffer = b""

    def wakeup(self):
        self.stream.write(_WAKEUP)
        sleep_ms(5)

    def write(self, frame):
        self.stream.write(frame)

    def _fill(self):
        # A UART's any() may say 1 while more bytes wait (MicroPython's docs allow it): read
        # until it says none, rather than a byte per poll.
        while self.stream.any():
            data = self.stream.read(self.stream.any())
            if not data:
                break
            self.buffer += data
        if frame_bounds(self.buffer) is not None:
            return True
        if len(self.buffer) > _MAX_PENDING:
            # Noise and no frame: keep only what could still begin one, so that a line that
            # babbles cannot fill the heap.
            self.buffer = self.buffer[-MAX_FRAME:]
        return False

    def wait_ready(self, timeout_ms):
        return _poll(self._fill, timeout_ms, 1)

    def read(self, n):
        bounds = frame_bounds(self.buffer)
        if bounds is None:
            return bytes(n)
        start, end = bounds
        frame, self.buffer = b"\x00" + self.buffer[start:end], self.buffer[end:]
        return frame[:n]


_CHUNK = const(512)


class FileStream:
    """A UART made of a device file (the emulator's pty), for HSUTransport on the Unix port
    and on CPython: read one byte at a time while poll() says there is one."""

    def __init__(self, path):
        import select

        self.file = open(path, "r+b", buffering=0)
        self.poller = select.poll()
        self.poller.register(self.file, select.POLLIN)

    def any(self):
        # A pty does not say how many bytes wait, only that some do. Saying 1 made the HSU
        # transport take one byte per poll, a millisecond apart: a 260-byte answer took over a
        # quarter of a second, half a tap's time limit. read() takes only what is there.
        return _CHUNK if self.poller.poll(0) else 0

    def read(self, n):
        out = b""
        while len(out) < n and self.poller.poll(0):
            out += self.file.read(1)
        return out

    def write(self, data):
        self.file.write(data)


# The bus ids open_bus takes when a "pn532" entry names none, by board profile (config.json's
# "board"). The esp32 port has no SPI(0) ("SPI(0) doesn't exist": its ids are 1 and 2) and keeps
# UART0 for its REPL; the profiles' UART link is UART1, so the PN532's HSU takes UART2 where the
# chip has one. The ESP32-C3 has only UART0 and UART1: its HSU shares UART1 with the UART link
# and works only while the link is USB ("stdio"). SPI(2) on the ESP32 is the bus whose own pins
# (18, 23, 19) the wiring uses. host/icpurse/board_rules.py holds the ports' rules these follow.
_DEFAULT_IDS = {
    "esp32": {"i2c": 0, "spi": 2, "hsu": 2},
    "esp32s3": {"i2c": 0, "spi": 1, "hsu": 2},
    "esp32c3": {"i2c": 0, "spi": 1, "hsu": 1},
}
# Ids that exist on every ESP32 chip, for a board profile not listed above.
_ESP32_IDS = {"i2c": 0, "spi": 1, "hsu": 1}
_RP2_BOARDS = ("pico", "picow", "pico2")


def _rp2_id(bus, options):
    # On the rp2 port a pin reaches one bus id only (ports/rp2/machine_*.c): UART0 on GP0-3,
    # 12-19, 28-29 and UART1 on GP4-11, 20-27; SPI1 on GP8-15 and 24-29; I2C1 on pins 2-3 of
    # every four. The id follows from the pins, so a default never meets "bad TX pin".
    if bus == "hsu" and options.get("tx") is not None:
        return ((options["tx"] + 4) & 8) >> 3
    if bus == "spi" and options.get("sck") is not None:
        return (options["sck"] & 8) >> 3
    if bus == "i2c" and options.get("scl") is not None:
        return (options["scl"] & 2) >> 1
    return 0


def default_id(bus, options, board=None):
    """The bus id open_bus uses for `options` ("pn532" entry without "id") on board profile
    `board` (None: the board this runs on, told by sys.platform)."""
    if board in _DEFAULT_IDS:
        return _DEFAULT_IDS[board][bus]
    if board in _RP2_BOARDS or (board is None and sys.platform == "rp2"):
        return _rp2_id(bus, options)
    return _ESP32_IDS[bus]


def open_bus(options, board=None):
    """The transport a board's config.json "pn532" entry names: {"bus": "i2c" | "spi" |
    "hsu", "id": bus id, pins ...}, or {"bus": "hsu", "device": PATH} on the emulator. Without
    an "id" the bus id is default_id's for board profile `board` (config.json's "board")."""
    bus = options.get("bus")
    if bus == "hsu" and options.get("device"):
        return HSUTransport(FileStream(options["device"]))
    if bus not in ("i2c", "spi", "hsu"):
        raise ValueError("unknown PN532 bus %r" % bus)
    import machine

    bus_id = options.get("id")
    if bus_id is None:
        bus_id = default_id(bus, options, board)
    if bus == "i2c":
        i2c = machine.I2C(
            bus_id, scl=machine.Pin(options["scl"]), sda=machine.Pin(options["sda"]),
            freq=options.get("freq", 400000),
        )  # fmt: skip
        return I2CTransport(I2CDevice(i2c, _I2C_ADDRESS))
    if bus == "spi":
        spi = machine.SPI(
            bus_id, baudrate=options.get("baudrate", 1000000), polarity=0, phase=0,
            sck=machine.Pin(options["sck"]), mosi=machine.Pin(options["mosi"]),
            miso=machine.Pin(options["miso"]),
        )  # fmt: skip
        cs = machine.Pin(options["cs"], machine.Pin.OUT)
        # machine.SPI sends MSB first on every port; the PN532 wants LSB first.
        return SPITransport(SPIDevice(spi, cs, reverse=True))
    uart = machine.UART(bus_id, baudrate=115200, tx=options.get("tx"), rx=options.get("rx"))
    return HSUTransport(uart)
