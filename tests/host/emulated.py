"""Emulated cards (firmware/main.py behind a pty, on MicroPython or CPython) provisioned by the
authorities of the worked example, for tests that go through the real serial link."""

import sys
from contextlib import ExitStack

from mp_support import ROOT

from icpurse.emulator.card import EmulatedCard
from purse.client import personalise
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
