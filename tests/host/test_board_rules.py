"""Board glue that the real MicroPython ports accept (issue 24): every board profile
(firmware/boards/*.json), the bus ids pn532_bus.open_bus picks when a profile names none, and
the wiring tables of README.md ("Wiring a PN532") and docs/HARDWARE.md ("Wiring"), checked
against the esp32 and rp2 ports' rules in icpurse.board_rules: bus ids that exist on the chip,
pins each id can use, no pin or bus used twice, and no flash, PSRAM, USB, REPL or strapping
pins. open_bus runs here on CPython against a stand-in `machine` module that records the ids
and pins it is given."""

import json
import re
import sys

import pytest
from fake_machine import FakeMachine
from mp_support import FIRMWARE, ROOT

from icpurse import board_rules
from icpurse.board_rules import Claim, check, claims_of

sys.path.insert(0, str(FIRMWARE))
import pn532_bus

BOARDS = FIRMWARE / "boards"
PROFILES = {path.stem: json.loads(path.read_text()) for path in sorted(BOARDS.glob("*.json"))}
CHIP_BOARDS = sorted(name for name in PROFILES if name != "unix")

# A row of a wiring table names its boards the way people do.
ROW_BOARDS = {
    "ESP32": "esp32",
    "ESP32-S3": "esp32s3",
    "ESP32-C3": "esp32c3",
    "Pico": "pico",
    "Pico W": "picow",
    "Pico 2": "pico2",
}
SIGNAL_NAMES = {"SDA": "sda", "SCL": "scl", "SCK": "sck", "MOSI": "mosi", "MISO": "miso",
                "SS": "cs", "CS": "cs", "TX": "tx", "RX": "rx"}  # fmt: skip
# What a README cell says when a bus works only while the link is USB (the ESP32-C3's HSU,
# which needs the UART the UART link uses).
USB_LINK_ONLY = "USB link only"


def _table(path, heading):
    """[{column header: cell}] of the first Markdown table under `heading`."""
    lines = path.read_text().splitlines()
    start = lines.index(heading)
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    header, body = rows[0], [r for r in rows[1:] if not set("".join(r)) <= set("-: ")]
    return [dict(zip(header, row, strict=True)) for row in body]


def _boards(cell):
    return [ROW_BOARDS[name.strip()] for name in cell.split(",")]


def _numbers(cell):
    return [int(n) for n in re.findall(r"\d+", cell)]


def _opened(monkeypatch, options, board):
    """The (kind, id, pins) open_bus hands to machine for `options` on profile `board`."""
    fake = FakeMachine()
    monkeypatch.setitem(sys.modules, "machine", fake)
    pn532_bus.open_bus(options, board)
    kind, bus_id, pins = fake.made[0]
    if "cs" in options:
        pins["cs"] = options["cs"]
    return kind, bus_id, pins


def _link_and_button(board):
    profile = PROFILES[board]
    return [c for c in claims_of(profile) if c.role in ("UART link", "button")]


# The rules themselves: what the ports refuse, as the issue found it in their sources.


def test_the_rules_name_their_source():
    assert re.search(r"[0-9a-f]{40}", board_rules.SOURCE["micropython"])
    for chip in board_rules.CHIPS.values():
        assert chip.source and all(
            key.strip() in board_rules.SOURCE for key in chip.source.split(",")
        )


def test_the_rules_refuse_what_the_ports_refuse():
    def uart(board, bus_id, tx, rx):
        return check(board, [Claim("x", "uart", bus_id, {"tx": tx, "rx": rx})])

    spi = {"sck": 18, "mosi": 23, "miso": 19, "cs": 4}
    assert any("SPI(0) doesn't exist" in p for p in check("esp32", [Claim("x", "spi", 0, spi)]))
    assert check("esp32", [Claim("x", "spi", 2, spi)]) == []
    assert any("SPI(2) doesn't exist" in p for p in check("esp32c3", [Claim("x", "spi", 2, spi)]))
    assert any("bad TX pin" in p for p in uart("pico", 1, 0, 1))  # GP0/GP1 are UART0's.
    assert (
        uart("pico", 0, 0, 1) == [] and uart("pico", 1, 8, 9) == [] and uart("pico", 1, 4, 5) == []
    )
    assert any("bad TX pin" in p for p in uart("pico", 0, 2, 3))  # The RP2040's CTS/RTS pins...
    assert uart("pico2", 0, 2, 3) == []  # ... carry TX/RX on an RP2350.
    assert any("PSRAM" in p for p in uart("esp32", 1, 17, 16))  # WROVER modules.
    assert any("REPL" in p for p in uart("esp32", 0, 25, 26))
    assert any("input only" in p for p in uart("esp32", 1, 34, 35))
    assert uart("esp32", 1, 25, 34) == []  # An input-only pin can receive.
    assert any("flash" in p for p in uart("esp32", 1, 6, 7))
    assert any("PSRAM" in p for p in uart("esp32s3", 1, 35, 36))  # N8R8 modules.
    assert any("USB" in p for p in uart("esp32s3", 1, 19, 20))
    assert any("USB" in p for p in uart("esp32c3", 1, 18, 19))
    assert any("strapping" in p for p in uart("esp32c3", 1, 2, 8))
    i2c = check("pico", [Claim("x", "i2c", 0, {"sda": 4, "scl": 5})])
    assert i2c == [] and check("pico", [Claim("x", "i2c", 1, {"sda": 4, "scl": 5})])
    twice = check("pico", [Claim("a", "uart", 0, {"tx": 0, "rx": 1}),
                           Claim("b", "uart", 0, {"tx": 0, "rx": 1})])  # fmt: skip
    assert any("used twice" in p for p in twice) and any("both use UART(0)" in p for p in twice)


def test_the_rp2_pin_sets_per_bus_id():
    pins = board_rules.pins_for
    assert pins("RP2040", "uart", 0, "tx") == [0, 12, 16, 28]
    assert pins("RP2040", "uart", 1, "tx") == [4, 8, 20]
    assert pins("RP2350", "uart", 0, "tx") == [0, 2, 12, 14, 16, 18, 28]
    assert pins("RP2040", "spi", 0, "sck") == [2, 6, 18, 22]
    assert pins("RP2040", "spi", 1, "mosi") == [11, 15, 27]
    assert pins("RP2040", "i2c", 0, "sda") == [0, 4, 8, 12, 16, 20, 28]
    assert pins("RP2040", "i2c", 1, "scl") == [3, 7, 11, 15, 19, 27]
    assert 16 not in pins("ESP32", "uart", 1, "tx") and 34 in pins("ESP32", "uart", 1, "rx")


# The profiles and open_bus's defaults.


def test_every_profile_but_the_unix_port_has_a_chip():
    assert set(CHIP_BOARDS) == set(board_rules.PROFILES)


@pytest.mark.parametrize("board", CHIP_BOARDS)
def test_the_profile_meets_its_ports_rules(board):
    """The UART link, the PN532's bus and the button of firmware/boards/BOARD.json: valid ids
    and pins, none used twice. Before issue 24 the ESP32's UART link sat on WROVER's PSRAM."""
    assert check(board, claims_of(PROFILES[board])) == []


@pytest.mark.parametrize("board", CHIP_BOARDS)
def test_open_bus_gives_the_profile_what_it_asks_for(board, monkeypatch):
    options = PROFILES[board]["pn532"]
    kind, bus_id, pins = _opened(monkeypatch, options, board)
    assert (kind, bus_id) == (options["bus"], options["id"])
    assert pins == {s: options[s] for s in pins}


# The wiring tables.

README_WIRING = _table(ROOT / "README.md", "### Wiring a PN532 (NFC taps)")
HARDWARE_WIRING = _table(ROOT / "docs" / "HARDWARE.md", "### Wiring")


def _readme_buses():
    """[(board, bus, {signal: pin}, usb link only)] of README's table, one per board and bus."""
    out = []
    for row in README_WIRING:
        for header, cell in row.items():
            if header == "board":
                continue
            name, signals = header.split(":")
            signals = [SIGNAL_NAMES[s.strip()] for s in signals.split(",")]
            pins = dict(zip(signals, _numbers(cell), strict=True))
            for board in _boards(row["board"]):
                out.append((board, name.strip().lower(), pins, USB_LINK_ONLY in cell))
    return out


def test_the_readme_table_covers_every_board_and_bus():
    assert {(b, bus) for b, bus, _, _ in _readme_buses()} == {
        (b, bus) for b in CHIP_BOARDS for bus in ("i2c", "spi", "hsu")
    }


@pytest.mark.parametrize("board,bus,pins,usb_only", _readme_buses(), ids=lambda v: str(v))
def test_the_readme_wiring_meets_the_rules_with_open_bus_defaults(
    board, bus, pins, usb_only, monkeypatch
):
    """Each bus of README's "Wiring a PN532" on each board, as open_bus opens it with no "id"
    (the bus id is its default for the board), beside the profile's UART link and button.
    Before issue 24: open_bus made SPI(0), which no ESP32 has; a Pico's HSU was UART1 on GP0/GP1,
    which only UART0 reaches; every board's HSU was on its UART link's pins; the ESP32-C3's SPI
    was on the link's pins and a strapping pin."""
    kind, bus_id, opened = _opened(monkeypatch, dict(pins, bus=bus), board)
    assert opened == pins
    claims = [c for c in _link_and_button(board) if not (usb_only and c.role == "UART link")]
    assert check(board, [*claims, Claim("PN532 " + bus.upper(), kind, bus_id, pins)]) == []
    if usb_only:
        # Only where the chip has no UART to spare: its other one is the REPL's.
        chip = board_rules.chip_of(board)
        assert [i for i in chip.ids["uart"] if i != chip.repl_uart] == [bus_id]


def test_hardware_md_wiring_is_the_profiles():
    """docs/HARDWARE.md's "Wiring" gives each board's UART link, button and PN532 I2C pins as
    the profiles set them, so what the rules accept there is what the board gets."""
    seen = set()
    for row in HARDWARE_WIRING:
        link = _numbers(row["UART link (TX, RX)"])
        button = _numbers(row["button"])
        sda, scl = _numbers(row["PN532 on I2C (SDA, SCL)"])
        for board in _boards(row["board"]):
            profile = PROFILES[board]
            uart = profile["uart"]
            assert link == [uart["id"], uart["tx"], uart["rx"]], board
            assert button[:1] == [profile["button"]], board
            assert (sda, scl) == (profile["pn532"]["sda"], profile["pn532"]["scl"]), board
            seen.add(board)
    assert seen == set(CHIP_BOARDS)
