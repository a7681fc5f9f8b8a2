"""Board glue for taps: the PN532 of config.json's "pn532" entry, and the FRAME_BOARD commands
its host (or the button's stand-in on the emulator) sends over the serial link:

    arm X            propose the next payment of X; on a board with a button the holder confirms
                     it with a press within 20 s (the emulator's command is the press itself)
    listen           be the card in the field: serve the applet to a reader until released
    receive X [M]    be the reader: take X from the card in the field, seal mode M (default 1)

Each is answered with "ok ..." or "error ...". Imported only by a board that has a PN532, so a
board without one never loads the driver.

Besides the bus and pins, the "pn532" entry may set the holder's confirmation (purse.tap.Armed):
    auto_limit       the board confirms payments up to this amount without a press (default 0)
    auto_cap         ... but no more than this in all between two presses (default twice
                     auto_limit), so a rogue reader cannot take auto_limit again and again
    arm_expiry_ms    an armed amount lapses after this long unpaid (default 60000)
    rtt_limit_us     a tap whose APDU takes longer is stopped (default: by seal mode,
                     purse.tap.RTT_LIMIT_US, and RTT_LIMIT_SIGNED_US for the signed mode)
"""

import os

from pn532_bus import open_bus, ticks_diff, ticks_ms, ticks_us
from wallet_app import button_pressed

from purse import pn532, tap
from purse.client import CardClient

ARM_SECONDS = 20


class NfcBoard:
    def __init__(self, card, applet, options, button=None, board=None):
        self.applet = applet
        self.options = options
        self.button = button
        self.board = board  # The profile's name: open_bus picks default bus ids by it.
        # The running clock is the board's own (pn532_bus: MicroPython's ticks, or CPython's
        # monotonic clock on the emulator), so an armed amount lapses in real time.
        self.armed = tap.Armed(
            options.get("auto_limit", 0), options.get("auto_cap"), options.get("arm_expiry_ms"),
            ticks_ms, ticks_diff,
        )  # fmt: skip
        card.confirm = self.armed
        self.chip = None

    def _chip(self):
        if self.chip is None:
            chip = pn532.PN532(open_bus(self.options, self.board))
            chip.begin()
            self.chip = chip
        return self.chip

    def __call__(self, payload):
        try:
            words = bytes(payload).decode().split()
            if not words:
                return b"error empty board command"
            if words[0] == "arm" and len(words) == 2:
                if self.button is not None and not button_pressed(self.button, ARM_SECONDS):
                    return b"error the holder did not press the button"
                self.armed.arm(int(words[1]))
                return ("ok armed %d" % int(words[1])).encode()
            if words[0] == "listen":
                served = tap.serve(self._chip(), self.applet, os.urandom(3))
                return ("ok served %d" % served).encode()
            if words[0] == "receive" and len(words) in (2, 3):
                mode = int(words[2]) if len(words) == 3 else 1
                # The board drives its own applet in a session of its own, as tap.serve gives
                # a reader one: the wired link's selection and any response it left unread
                # are there again afterwards.
                wired = self.applet.swap_session()
                try:
                    own = CardClient(self.applet.process)
                    own.select()
                    credited, balance, rtt = tap.receive(
                        self._chip(), own, int(words[1]), ticks_us, ticks_diff, mode,
                        self.options.get("rtt_limit_us"),
                    )  # fmt: skip
                finally:
                    self.applet.swap_session(wired)
                return ("ok credited %d balance %d rtt %d" % (credited, balance, rtt)).encode()
            return b"error unknown board command"
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the host.
            return ("error %s: %s" % (type(exc).__name__, exc)).encode()
