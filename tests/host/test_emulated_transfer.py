"""Transfers over the real serial link: between emulated cards on ptys (MicroPython and
CPython) — plain, with injected frame faults, and with a power cut or a MemoryError in the
middle on each side — and the same tests on two real boards when --port-a/--port-b name them
(skipped otherwise)."""

import pytest
from emulated import Boards, Cards, board_ports

from purse import proto
from purse.client import CardError

RUNTIMES = ["micropython", "cpython", "boards"]


@pytest.fixture(params=RUNTIMES)
def cards(request, tmp_path):
    if request.param == "boards":
        ports = board_ports(request.config)
        if ports is None:
            pytest.skip("no real boards: give --port-a/--port-b or ICPURSE_PORT_A/ICPURSE_PORT_B")
        c = Boards(tmp_path, ports)
    else:
        c = Cards(tmp_path, request.param)
    yield c
    c.close()


def _balances(*cards):
    return [c.client.info().balance for c in cards]


def test_transfer_over_the_serial_link(cards):
    a = cards.card("a", 5000)
    b = cards.card("b")
    for mode in proto.SEAL_MODES:
        challenge = b.client.make_challenge(100, mode)
        b.client.accept(challenge, a.client.pay(challenge))
    assert _balances(a, b) == [4600, 400]
    assert b.client.info().outbox == 4


def test_transfer_with_frame_faults(cards):
    faults = {"drop": 0.08, "duplicate": 0.08, "corrupt": 0.08, "delay": 0.05, "delay_ms": 50}
    a = cards.card("a", 5000, faults=dict(faults, fault_seed=1), link_timeout=1.0)
    b = cards.card("b", faults=dict(faults, fault_seed=2), link_timeout=1.0)
    for _ in range(3):
        challenge = b.client.make_challenge(250)
        payment = a.client.pay(challenge)
        # A relay that retries the same challenge never gets a second debit.
        assert a.client.pay(challenge) == payment
        b.client.accept(challenge, payment)
    assert _balances(a, b) == [4250, 750]
    assert a.link.resends + b.link.resends > 0, "no fault was injected"


CUTS = [("payer", 1), ("payer", 2), ("payer", 3), ("recipient", 1), ("recipient", 3)]
MEMORY_ERRORS = [("payer", 1), ("payer", 3), ("recipient", 3)]
FAULTS = [("cut_at", *c) for c in CUTS] + [("memory_at", *m) for m in MEMORY_ERRORS]


@pytest.mark.parametrize("fault,side,op", FAULTS)
def test_a_fault_mid_transfer(cards, fault, side, op):
    """A power cut, or a MemoryError (a fragmented heap) that restarts the card instead of
    dropping it into the REPL, at a store operation of a transfer: the card comes back by
    itself, the link selects the applet again and resends what was pending, and no value is
    lost or made."""
    a = cards.card("a", 5000)
    b = cards.card("b")
    faulty = a if side == "payer" else b
    # The recipient's ACCEPT operations come after its two of MAKE CHALLENGE.
    cards.restart(faulty, **{fault: op + (2 if side == "recipient" else 0)})
    challenge = b.client.make_challenge(700)
    payment = a.client.pay(challenge)
    try:
        b.client.accept(challenge, payment)
    except CardError as exc:
        # The recipient restarted in ACCEPT: its pending challenge is gone with the restart,
        # so the resent ACCEPT finds the ChallID unknown, whether the credit committed or not.
        assert exc.sw == proto.SW_CHALLENGE_UNKNOWN
    assert a.client.pay(challenge) == payment
    balances = _balances(a, b)
    # Credited, or left in doubt in the payer's journal (refunded later): never both.
    assert balances in ([4300, 700], [4300, 0]), balances
    assert b.client.info().outbox == (1 if balances[1] else 0)
    if side == "payer":
        assert balances == [4300, 700]
    assert faulty.link.resets >= 1
    if fault == "memory_at":
        log = (faulty.state_dir / "emulator.log").read_text()
        assert "MemoryError" in log and "restarted itself after a fault" in log, log


def test_a_payment_in_doubt_is_left_visible(cards):
    """The recipient refuses after the payer signed: the terminal says so, and the payment
    stays in the payer's journal for reconciliation; no value is created."""
    from icpurse.terminal import TransferInDoubt, transfer
    from purse.records.transfer import Payment

    a = cards.card("a", 5000)
    b = cards.card("b")
    c = cards.card("c")
    # C revokes A: C's card refuses A's payment only after A has signed and debited it.
    c.client.install_revocation(cards.world.revocation([a.card_id]))
    with pytest.raises(TransferInDoubt) as caught:
        transfer(a.client, c.client, 400)
    assert "journal" in str(caught.value)
    journalled = Payment.decode(a.client.read_journal(0))
    assert journalled.encode() == caught.value.payment and journalled.x == 400
    assert _balances(a, c) == [4600, 0]
    transfer(a.client, b.client, 100)
    assert _balances(a, b) == [4500, 100]


# docs/DESIGN.md section 11: provisioning and trades per card in the heap of each board profile
# on the 64-bit Unix port, with the firmware precompiled as deployed and the cards booting with
# the profile's settings (icpurse emulate --profile). The classic ESP32's (esp32: no tables of
# the anchors' or the peers' keys, the lean generator tables) holds issue 23's 128K, about 92K
# on its 32-bit MicroPython (an estimate by issue 23's measured ratio of 0.72) against the
# 111,936 bytes it has; its cards here pass at 126K and not at 124K (125K in `icpurse bench
# transfer`; 132K and 130K before the lean tables). The fast profile (esp32s3: the anchors' and
# peers' tables, the transfer's code loaded at boot) needs 168K here and 176K in the bench, for
# its 192K.
HEAP_BARS = {"esp32": "128K", "esp32s3": "192K"}


def _trades_in_the_heap_of(tmp_path, profile, reboot):
    """A whole provisioning and transfers in all four seal modes, A paying B, both cards in the
    profile's heap bar: personalised in the same boot, or personalised under the emulator's
    heap and started again under the bar, as a board is personalised once and then trades."""
    heap = HEAP_BARS[profile]
    cards = Cards(tmp_path, "micropython")
    try:
        options = {"profile": profile} if reboot else {"profile": profile, "heap": heap}
        a = cards.card("a", 5000, **options)
        b = cards.card("b", **options)
        if reboot:
            cards.restart(a, heap=heap)
            cards.restart(b, heap=heap)
        started = [a.link.resets, b.link.resets]
        for mode in proto.SEAL_MODES:
            challenge = b.client.make_challenge(100, mode)
            b.client.accept(challenge, a.client.pay(challenge))
        assert _balances(a, b) == [4600, 400]
        # No MemoryError restart on the way (a card restarts itself and the link resends, so
        # a transfer can succeed all the same: in this heap it must not need to).
        assert [a.link.resets, b.link.resets] == started
        assert a.process.poll() is None and b.process.poll() is None
    finally:
        cards.close()


@pytest.mark.parametrize("reboot", [False, True], ids=["personalised-this-boot", "rebooted"])
def test_transfers_in_the_heap_of_a_classic_esp32(tmp_path, reboot):
    _trades_in_the_heap_of(tmp_path, "esp32", reboot)


@pytest.mark.parametrize("reboot", [False, True], ids=["personalised-this-boot", "rebooted"])
def test_transfers_in_the_heap_of_the_fast_profile(tmp_path, reboot):
    _trades_in_the_heap_of(tmp_path, "esp32s3", reboot)
