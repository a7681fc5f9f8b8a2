"""The wallet's tests again, every card with a fast board profile's speed-ups (issue 23):
tables of its anchor keys kept in its store, tables of its last peers' keys, and signatures
under its anchors remembered once verified (purse.wallet.card, purse.crypto.pure). The same
refusals and the same money, whichever path a verification takes; on both interpreters.

Small tables (4 spans for the anchors, 2 for the peers) keep the run short: the paths are
those of the profiles' 16 and 2.
"""

import _cards
import test_attacks_card
import test_wallet
import test_wallet_refusals

from purse.wallet.card import ANCHOR_TABLES

FAST = (4, 2)


def _fast(test):
    def run():
        _cards.SPEEDUPS = FAST
        try:
            test()
        finally:
            _cards.SPEEDUPS = (0, 0)

    return run


for _module in (test_wallet, test_wallet_refusals, test_attacks_card):
    for _name in dir(_module):
        if _name.startswith("test_"):
            globals()[_name] = _fast(getattr(_module, _name))


def test_the_cards_here_are_the_fast_profiles():
    """What the tests above run with: a card with its own backend keeping peers' tables, and
    its anchors' tables in its store."""
    _cards.SPEEDUPS = FAST
    try:
        card = _cards.World().new_card(b"A", 100)
    finally:
        _cards.SPEEDUPS = (0, 0)
    assert card.card.backend.peer_spans == 2 and card.card.anchor_spans == 4
    assert all(name in card.memory.files for _, name in ANCHOR_TABLES)
