"""A stand-in for MicroPython's `machine` module, for the board glue's tests on CPython: its
I2C, SPI, UART and Pin, recording each bus made as (kind, id, {signal: pin})."""

import types

# The keyword arguments of machine's bus constructors that name a pin.
SIGNALS = ("sda", "scl", "sck", "mosi", "miso", "tx", "rx")


class FakeMachine(types.ModuleType):
    def __init__(self):
        super().__init__("machine")
        self.made = []
        made = self.made

        class Pin:
            OUT = 1

            def __init__(self, number, mode=None):
                self.number = number

            def value(self, v):
                pass

        def pin(p):
            return p.number if isinstance(p, Pin) else p

        def bus(kind):
            def make(bus_id, **kw):
                signals = {k: pin(v) for k, v in kw.items() if k in SIGNALS}
                made.append((kind, bus_id, signals))
                return types.SimpleNamespace(writeto=None, readfrom_into=None)

            return make

        self.Pin = Pin
        self.I2C = bus("i2c")
        self.SPI = bus("spi")
        self.UART = bus("uart")
