"""Cards behind a real serial link, provisioned by the authorities of the worked example:
emulated cards (firmware/main.py behind a pty, on MicroPython or CPython), or real boards
named by --port-a/--port-b (or ICPURSE_PORT_A/ICPURSE_PORT_B) for the same tests."""

import os
import sys
from contextlib import ExitStack

import pytest
from mp_support import ROOT

from icpurse.emulator.card import EmulatedCard
from icpurse.seriallink import SerialLink
from purse import proto
from purse.client import CardClient, personalise
from purse.records.credentials import Voucher

sys.path.insert(0, str(ROOT / "tests" / "core"))
from _cards import World


class Cards:
    """Authorities plus emulated cards; every card gets its first voucher."""

    def __init__(self, tmp_path, runtime):
        self.world = World()
        self.tmp_path = tmp_path
        self.runtime = runtime
        self.stack = ExitStack()
        self.issued = {}

    def card(self, name, amount=0, **options):
        card = EmulatedCard(self.tmp_path / name, runtime=self.runtime, seed=name.encode().hex(),
                            **options)  # fmt: skip
        self.stack.enter_context(card)
        w = self.world
        info = personalise(card.client, w.anchors, w.certify, w.risk, w.ticket_for)
        card.card_id = info.card_id
        card.public_key = info.public_key
        self.load(card, amount)
        return card

    def load(self, card, amount):
        issued, sequence = self.issued.get(card.public_key, (0, 0))
        voucher = Voucher(card.public_key, issued + amount, sequence + 1, self.world.ltime)
        voucher.sign(self.world.issuer)
        self.issued[card.public_key] = (issued + amount, sequence + 1)
        return card.client.load_voucher(voucher.encode())

    def restart(self, card, **options):
        """Power the card off and on again, with new emulator options (a power cut point)."""
        card.stop()
        for name, value in options.items():
            setattr(card, name, value)
        card.start()
        card.client.select()

    def close(self):
        self.stack.close()


def board_ports(config):
    """{"a": port, "b": port} from the options or the environment, or None."""
    a = config.getoption("--port-a") or os.environ.get("ICPURSE_PORT_A")
    b = config.getoption("--port-b") or os.environ.get("ICPURSE_PORT_B")
    return {"a": a, "b": b} if a and b else None


class _Board:
    """A real board on its serial port, looking like an EmulatedCard to the tests."""

    def __init__(self, port):
        self.port = port
        self.link = SerialLink(port, timeout=10.0)
        self.client = CardClient(self.link.exchange)

    def stop(self):
        self.link.close()


class Boards(Cards):
    """The same tests on real boards. They must be fresh (just flashed): the tests provision
    them with the test authorities, and a personalised board cannot be provisioned again."""

    def __init__(self, tmp_path, ports):
        super().__init__(tmp_path, "boards")
        self.ports = ports

    def card(self, name, amount=0, **options):
        if options:
            pytest.skip("faults and power cuts need the emulator")
        board = _Board(self.ports[name])
        self.stack.callback(board.stop)
        if board.client.select().state != proto.STATE_FRESH:
            pytest.skip("board %s is personalised already: flash it again to test" % name)
        w = self.world
        info = personalise(board.client, w.anchors, w.certify, w.risk, w.ticket_for)
        board.card_id = info.card_id
        board.public_key = info.public_key
        self.load(board, amount)
        return board

    def restart(self, card, **options):
        pytest.skip("restarting a board needs the emulator")
