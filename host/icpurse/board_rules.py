"""What MicroPython's esp32 and rp2 ports accept for machine.SPI, machine.I2C and machine.UART,
per chip, as data: the bus ids, the pins each id may use, and the pins a board must leave alone.

Read from the MicroPython source at SOURCE (the ports' machine modules, cited per rule below)
and, for what the port takes from ESP-IDF or the silicon (how many controllers a chip has,
strapping and flash pins), from Espressif's datasheets. The board profiles
(firmware/boards/*.json), pn532_bus.open_bus's default bus ids and the wiring tables in README.md
and docs/HARDWARE.md are checked against it by tests/host/test_board_rules.py, so a pin choice
that the first real board would refuse with "SPI(0) doesn't exist" or "bad TX pin" fails a test
instead. `check(board, claims)` returns the problems in words, an empty list when none.

ESP32 chips route any bus to any GPIO through the GPIO matrix, so their rules are about pins a
bus must not take: input-only pins for a signal the board drives, flash and PSRAM pins, the
USB pins, strapping pins (a bus that pulls one at reset changes how the chip boots), and the
REPL's UART. The rp2 port instead fixes which pins each bus id reaches.
"""

MICROPYTHON = "micropython/micropython 1c3c201149f37fe8d81246191b3127bb198d6306"
MICROPYTHON_VERSION = "v1.29.0-preview-731-g1c3c201149 (2026-08-19)"

SOURCE = {
    "micropython": "%s, %s" % (MICROPYTHON, MICROPYTHON_VERSION),
    "esp32 spi": "ports/esp32/machine_hw_spi.c: ids 1..MICROPY_HW_SPI_MAX, SPI(0) refused",
    "esp32 uart": "ports/esp32/machine_uart.c, machine_uart.h, uart.h: ids 0..SOC_UART_NUM-1",
    "esp32 i2c": "ports/esp32/machine_i2c.c, machine_i2c.h: ids 0..I2C_NUM_MAX-1, default 0",
    "esp32 pins": "ports/esp32/machine_pin.c, machine_pin.h: the GPIOs machine.Pin accepts "
    "per chip and build (SPIRAM, octal SPIRAM, USB), GPIO_FIRST_NON_OUTPUT",
    "esp32 repl": "ports/esp32/uart.h and boards/ESP32_GENERIC*/mpconfigboard.h: the generic "
    "builds keep a REPL on UART0",
    "rp2 uart": "ports/rp2/machine_uart.c: IS_VALID_TX/RX, RP2040 and RP2350 forms",
    "rp2 spi": "ports/rp2/machine_spi.c: IS_VALID_SCK/MOSI/MISO",
    "rp2 i2c": "ports/rp2/machine_i2c.h: IS_VALID_SCL/SDA",
    "rp2 pins": "ports/rp2/boards/RPI_PICO*/pins.csv: the GPIOs on the boards' headers",
    "rp2 repl": "ports/rp2/mpconfigport.h: MICROPY_HW_ENABLE_UART_REPL is 0 (REPL on USB)",
    "datasheets": "ESP32 Series Datasheet (strapping pins, flash pins 6-11, input-only 34-39), "
    "ESP32-WROVER-E datasheet (GPIO16/17 to PSRAM), ESP32-S3 Series Datasheet (strapping, "
    "flash 27-32, octal PSRAM 33-37, USB 19/20), ESP32-C3 Series Datasheet (strapping, "
    "flash 12-17, USB 18/19); UART/I2C/SPI counts as ESP-IDF's soc_caps.h gives them",
}

# Signals the board drives: an input-only GPIO cannot carry them. The chip select and the
# button are plain GPIOs (output and input), not bus signals.
OUTPUTS = frozenset(("tx", "scl", "sda", "sck", "mosi", "cs"))

# The signals of each kind of claim, in the order the wiring tables list them.
SIGNALS = {
    "uart": ("tx", "rx"),
    "i2c": ("sda", "scl"),
    "spi": ("sck", "mosi", "miso", "cs"),
    "button": ("pin",),
}


def _range(*spans):
    out = set()
    for span in spans:
        if isinstance(span, int):
            out.add(span)
        else:
            out.update(range(span[0], span[1] + 1))
    return frozenset(out)


class Chip:
    """One chip's rules. `ids[kind]` are the bus ids the port's constructor accepts;
    `default_id[kind]` what it takes when the id is left out (None: the id is required);
    `pins` the GPIOs machine.Pin accepts on the board (or header) the profile targets;
    `reserved` {pin: why} pins a bus must not take on the module the profile targets;
    `strapping` pins read at reset; `boot_button` the strapping pin a board's BOOT button is
    wired to, which is fine as the confirmation button (it is only an input); `repl_uart`
    the UART id the port's REPL keeps (None: the REPL is on USB); `pin_rule(kind, id, signal,
    pin)` None or why that bus id cannot use that pin."""

    def __init__(
        self,
        name,
        port,
        ids,
        default_id,
        pins,
        reserved=None,
        strapping=(),
        boot_button=None,
        repl_uart=None,
        input_only=(),
        pin_rule=None,
        source="",
    ):
        self.name = name
        self.port = port
        self.ids = ids
        self.default_id = default_id
        self.pins = pins
        self.reserved = reserved or {}
        self.strapping = frozenset(strapping)
        self.boot_button = boot_button
        self.repl_uart = repl_uart
        self.input_only = frozenset(input_only)
        self.pin_rule = pin_rule
        self.source = source


def _reserve(reason, pins):
    return {pin: reason for pin in pins}


# The rp2 port's fixed pin sets (ports/rp2/machine_uart.c, machine_spi.c, machine_i2c.h): which
# bus id a pin reaches is a function of its number, and each signal has its own pins.
def _rp2_uart_periph(pin):
    # UART0 is GP0-3, 12-15, 16-19, 28-29; UART1 is GP4-11, 20-27: blocks of 8 offset by 4.
    return ((pin + 4) & 8) >> 3


def _rp2_rule(chip_name):
    def rule(kind, bus_id, signal, pin):
        if signal == "cs":
            return None  # A chip select is any GPIO the board drives.
        if kind == "uart":
            if chip_name == "RP2350":
                # The RP2350 also offers TX/RX on the pins the RP2040 keeps for CTS/RTS.
                parity_ok = (pin & 1) == (0 if signal == "tx" else 1)
            else:
                parity_ok = (pin & 3) == (0 if signal == "tx" else 1)
            if not parity_ok or _rp2_uart_periph(pin) != bus_id:
                return "UART%d cannot use GP%d for %s (bad %s pin)" % (
                    bus_id,
                    pin,
                    signal.upper(),
                    signal.upper(),
                )
            return None
        if kind == "spi":
            want = {"sck": 2, "mosi": 3, "miso": 0}[signal]
            if (pin & 3) != want or ((pin & 8) >> 3) != bus_id:
                return "SPI%d cannot use GP%d for %s (bad %s pin)" % (
                    bus_id,
                    pin,
                    signal.upper(),
                    signal.upper(),
                )
            return None
        if kind == "i2c":
            want = 1 if signal == "scl" else 0
            if (pin & 1) != want or ((pin & 2) >> 1) != bus_id:
                return "I2C%d cannot use GP%d for %s (bad %s pin)" % (
                    bus_id,
                    pin,
                    signal.upper(),
                    signal.upper(),
                )
            return None
        return None

    return rule


def rp2_bus_id(kind, pins):
    """The only rp2 bus id that can reach `pins` (a signal: pin dict), from the same rules."""
    if kind == "uart":
        return _rp2_uart_periph(pins["tx"])
    if kind == "spi":
        return (pins["sck"] & 8) >> 3
    return (pins["scl"] & 2) >> 1


# The Pico, Pico W and Pico 2 headers (ports/rp2/boards/RPI_PICO*/pins.csv): GP23-25 and GP29
# are the board's own (power supply, LED, VSYS sense; the radio on a Pico W).
_PICO_HEADER = _range((0, 22), (26, 28))
_RP2_IDS = {"uart": (0, 1), "spi": (0, 1), "i2c": (0, 1)}
# SPI and I2C default to PICO_DEFAULT_SPI/I2C (0 on these boards); UART's id is required.
_RP2_DEFAULTS = {"uart": None, "spi": 0, "i2c": 0}

CHIPS = {
    "ESP32": Chip(
        "ESP32",
        "esp32",
        # SOC_UART_NUM 3, I2C_NUM_MAX 2, SPI2 and SPI3 as SPI(1) and SPI(2).
        ids={"uart": (0, 1, 2), "spi": (1, 2), "i2c": (0, 1)},
        default_id={"uart": None, "spi": None, "i2c": 0},
        # machine_pin.h's ESP32 table (GPIO20 exists only on some packages, not on modules).
        pins=_range((0, 19), (21, 23), (25, 27), (32, 39)),
        reserved={
            **_reserve("the module's SPI flash", range(6, 12)),
            # The SPIRAM build drops GPIO16/17 from machine.Pin ("invalid pin"): WROVER modules
            # wire them to the PSRAM. A profile for "any ESP32 module" must leave them alone.
            **_reserve("PSRAM on ESP32-WROVER modules", (16, 17)),
            **_reserve("UART0, the REPL", (1, 3)),
        },
        strapping=(0, 2, 5, 12, 15),
        boot_button=0,
        repl_uart=0,
        input_only=range(34, 40),  # GPIO_FIRST_NON_OUTPUT is 34.
        source="esp32 spi, esp32 uart, esp32 i2c, esp32 pins, esp32 repl, datasheets",
    ),
    "ESP32-S3": Chip(
        "ESP32-S3",
        "esp32",
        ids={"uart": (0, 1, 2), "spi": (1, 2), "i2c": (0, 1)},
        default_id={"uart": None, "spi": None, "i2c": 0},
        pins=_range((0, 21), 26, (33, 46)),
        reserved={
            **_reserve("the module's SPI flash", range(27, 33)),
            # Dropped by the SPIRAM build (GPIO26, PSRAM chip select) and by the octal SPIRAM
            # build (GPIO33-37), as on N8R8 modules.
            **_reserve("PSRAM on N8R8 (octal) modules", (26, 33, 34, 35, 36, 37)),
            **_reserve("USB (the native USB port)", (19, 20)),
            **_reserve("UART0, the REPL", (43, 44)),
        },
        strapping=(0, 3, 45, 46),
        boot_button=0,
        repl_uart=0,
        source="esp32 spi, esp32 uart, esp32 i2c, esp32 pins, esp32 repl, datasheets",
    ),
    "ESP32-C3": Chip(
        "ESP32-C3",
        "esp32",
        # Two UARTs, one I2C controller, SPI2 only (SOC_SPI_PERIPH_NUM 2: MICROPY_HW_SPI_MAX 1).
        ids={"uart": (0, 1), "spi": (1,), "i2c": (0,)},
        default_id={"uart": None, "spi": None, "i2c": 0},
        pins=_range((0, 13), (18, 21)),
        reserved={
            **_reserve("the module's SPI flash (QIO)", range(12, 18)),
            **_reserve("USB Serial/JTAG", (18, 19)),
            **_reserve("UART0, the REPL", (20, 21)),
        },
        strapping=(2, 8, 9),
        boot_button=9,
        repl_uart=0,
        source="esp32 spi, esp32 uart, esp32 i2c, esp32 pins, esp32 repl, datasheets",
    ),
    "RP2040": Chip(
        "RP2040",
        "rp2",
        ids=_RP2_IDS,
        default_id=_RP2_DEFAULTS,
        pins=_PICO_HEADER,
        pin_rule=_rp2_rule("RP2040"),
        source="rp2 uart, rp2 spi, rp2 i2c, rp2 pins, rp2 repl",
    ),
    "RP2350": Chip(
        "RP2350",
        "rp2",
        ids=_RP2_IDS,
        default_id=_RP2_DEFAULTS,
        pins=_PICO_HEADER,
        pin_rule=_rp2_rule("RP2350"),
        source="rp2 uart, rp2 spi, rp2 i2c, rp2 pins, rp2 repl",
    ),
}

# Board profile (firmware/boards/NAME.json) -> the chip and the module it targets.
PROFILES = {
    "esp32": ("ESP32", "ESP32-WROOM-32 or ESP32-WROVER (with PSRAM)"),
    "esp32s3": ("ESP32-S3", "ESP32-S3-WROOM-1 N8R8 (octal PSRAM)"),
    "esp32c3": ("ESP32-C3", "ESP32-C3 with QIO flash"),
    "pico": ("RP2040", "Raspberry Pi Pico"),
    "picow": ("RP2040", "Raspberry Pi Pico W"),
    "pico2": ("RP2350", "Raspberry Pi Pico 2 (RP2350A)"),
}


def pins_for(chip_name, kind, bus_id, signal):
    """The GPIOs `signal` of bus `kind` number `bus_id` may use on chip `chip_name`, as a sorted
    list: on rp2 the port's fixed set (on the Pico headers), on an ESP32 every pin it allows."""
    chip = CHIPS[chip_name]
    claim = Claim("", kind, bus_id, {})
    return sorted(pin for pin in chip.pins if not _pin_problems(chip, claim, signal, pin))


def chip_of(board):
    """The Chip a board profile targets, or None (the Unix port has no buses)."""
    entry = PROFILES.get(board)
    return CHIPS[entry[0]] if entry else None


class Claim:
    """One user of pins: `role` (words for messages, such as "UART link"), `kind` ("uart",
    "spi", "i2c" or "button"), `bus_id` (None for a button) and `pins` {signal: GPIO}."""

    def __init__(self, role, kind, bus_id, pins):
        self.role = role
        self.kind = kind
        self.bus_id = bus_id
        self.pins = pins


def claims_of(config):
    """The Claims of a board's config.json (a profile): its UART link, its PN532 bus, its
    button. The UART link counts whatever "link" says, as a board switches to it by editing
    one word."""
    out = []
    if config.get("uart"):
        uart = config["uart"]
        out.append(Claim("UART link", "uart", uart.get("id"), _pins(uart, "uart")))
    pn532 = config.get("pn532")
    if pn532 and not pn532.get("device"):
        kind = "uart" if pn532["bus"] == "hsu" else pn532["bus"]
        out.append(
            Claim("PN532 " + pn532["bus"].upper(), kind, pn532.get("id"), _pins(pn532, kind))
        )
    if config.get("button") is not None:
        out.append(Claim("button", "button", None, {"pin": config["button"]}))
    return out


def _pins(options, kind):
    return {signal: options[signal] for signal in SIGNALS[kind] if options.get(signal) is not None}


def _pin_problems(chip, claim, signal, pin):
    where = "%s %s GPIO%d" % (claim.role, signal, pin)
    if pin not in chip.pins:
        return ["%s: not a pin machine.Pin accepts on this board (invalid pin)" % where]
    out = []
    if pin in chip.reserved:
        out.append("%s: %s" % (where, chip.reserved[pin]))
    if pin in chip.strapping and not (claim.kind == "button" and pin == chip.boot_button):
        out.append("%s: a strapping pin, read at reset" % where)
    if pin in chip.input_only and signal in OUTPUTS:
        out.append("%s: input only, cannot drive %s" % (where, signal.upper()))
    if chip.pin_rule and claim.kind != "button":
        problem = chip.pin_rule(claim.kind, claim.bus_id, signal, pin)
        if problem:
            out.append("%s: %s" % (claim.role, problem))
    return out


def check(board, claims):
    """The problems of `claims` (Claims) on board profile `board`, in words; [] when none."""
    chip = chip_of(board)
    if chip is None:
        return ["%s: no chip rules (a board profile of %s)" % (board, ", ".join(PROFILES))]
    out = []
    users = {}
    buses = {}
    for claim in claims:
        if claim.kind != "button":
            name = "%s(%s)" % (claim.kind.upper(), claim.bus_id)
            if claim.bus_id is None:
                out.append("%s: no bus id and %s has no default" % (claim.role, chip.name))
            elif claim.bus_id not in chip.ids[claim.kind]:
                out.append("%s: %s doesn't exist on %s" % (claim.role, name, chip.name))
            elif claim.kind == "uart" and claim.bus_id == chip.repl_uart:
                out.append("%s: %s is the REPL's UART" % (claim.role, name))
            if claim.bus_id is not None and name in buses:
                out.append("%s and %s both use %s" % (buses[name], claim.role, name))
            buses.setdefault(name, claim.role)
        for signal, pin in claim.pins.items():
            out += _pin_problems(chip, claim, signal, pin)
            if pin in users:
                out.append(
                    "GPIO%d used twice: %s and %s %s" % (pin, users[pin], claim.role, signal)
                )
            users.setdefault(pin, "%s %s" % (claim.role, signal))
        missing = [s for s in SIGNALS[claim.kind] if s not in claim.pins]
        if missing:
            out.append("%s: no %s pin" % (claim.role, ", ".join(missing)))
    return out
