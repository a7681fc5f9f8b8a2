"""Cards behind a real serial link, provisioned by the authorities of the worked example:
emulated cards (firmware/main.py behind a pty, on MicroPython or CPython), or real boards
named by --port-a/--port-b (or ICPURSE_PORT_A/ICPURSE_PORT_B) for the same tests."""

import os
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from mp_support import ROOT

from icpurse.emulator.card import EmulatedCard
from icpurse.logger.client import LoggerClient
from icpurse.logger.process import LoggerProcess
from icpurse.seriallink import SerialLink
from purse import proto
from purse.client import CardClient, personalise
from purse.records.credentials import Voucher

sys.path.insert(0, str(ROOT / "tests" / "core"))
from _cards import World
from _example import derive


class Cards:
    """Authorities plus emulated cards; every card gets its first voucher."""

    def __init__(self, tmp_path, runtime):
        self.world = World()
        self.tmp_path = tmp_path
        self.runtime = runtime
        self.stack = ExitStack()
        self.issued = {}
        # Every voucher signed for a card, by its public key: a test feeds them to a logger.
        self.vouchers = {}

    def card(self, name, amount=0, **options):
        card = EmulatedCard(self.tmp_path / name, runtime=self.runtime, seed=name.encode().hex(),
                            **options)  # fmt: skip
        self.stack.enter_context(card)
        w = self.world
        info = personalise(card.client, w.anchors, w.certify, w.risk, w.ticket_for)
        card.card_id = info.card_id
        card.public_key = info.public_key
        self.load(card, amount)
        w.stamp(card)  # The logger's first stamp: every payment shows one.
        return card

    def load(self, card, amount):
        issued, sequence = self.issued.get(card.public_key, (0, 0))
        voucher = Voucher(card.public_key, issued + amount, sequence + 1, self.world.ltime,
                          self.world.log_id)  # fmt: skip
        voucher.sign(self.world.issuer)
        self.issued[card.public_key] = (issued + amount, sequence + 1)
        self.vouchers.setdefault(card.public_key, []).append(voucher.encode())
        return card.client.load_voucher(voucher.encode())

    def restart(self, card, **options):
        """Power the card off and on again, with new emulator options (a power cut point)."""
        card.stop()
        for name, value in options.items():
            setattr(card, name, value)
        card.start()
        card.client.select()

    def release(self, card):
        """Close the test's own link, so another program (the `icpurse` CLI) can open the
        card's port: a link opens its port exclusively."""
        card.link.close()
        card.link = None
        card.client = None

    def attach(self, card):
        """Open the test's link to the card again after `release`."""
        card.link = SerialLink(card.port, timeout=card.link_timeout)
        card.client = CardClient(card.link.exchange)
        card.client.select()

    def logger_process(self, directory, db):
        """A real `icpurse logger serve` process that signs with the world's SkL, whose PkL
        every card of this world trusts. LoggerProcess keeps a key it finds in its directory,
        so the key is written there first. The process stops when the cards do."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.derive_private_key(int.from_bytes(derive(b"SkL"), "big"), ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (directory / "logger.pem").write_bytes(pem)
        (directory / "logger.pem.pub").write_text(self.world.logger.public_key.hex() + "\n")
        server = LoggerProcess(
            directory, db, self.world.ca.public_key, self.world.issuer.public_key
        )
        self.stack.enter_context(server)
        # The cards made from now on belong to this logger's log, which its checkpoint names.
        client = LoggerClient(server.url, self.world.logger.public_key)
        try:
            self.world.log_id = client.log_id()
        finally:
            client.close()
        return server

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
        self.link = SerialLink(port)  # It waits as long as the board it names needs.
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
        w.stamp(board)  # The logger's first stamp: every payment shows one.
        return board

    def restart(self, card, **options):
        pytest.skip("restarting a board needs the emulator")
