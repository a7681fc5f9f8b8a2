"""Power cut at every store operation of a transfer, on the payer and on the recipient.

After the cut the card reboots (reads its store afresh) and the terminal retries what it was
doing. Whatever the cut point: no value is created, a ChallID is never credited twice, a
retried challenge is never debited twice, and every debit is journalled as signed or undone.
Runs on CPython and on MicroPython.
"""

from _cards import World
from _check import raises

from purse import proto
from purse.client import CardError
from purse.records.transfer import Challenge
from purse.store import PowerCut

X = 1234
START = 10000


def _ops_of_a_transfer():
    world = World()
    a, b = world.new_card(b"A", START), world.new_card(b"B")
    before = a.fault.ops, b.fault.ops
    world.transfer(a, b, X)
    return a.fault.ops - before[0], b.fault.ops - before[1]


def _cut_transfer(victim_name, cut):
    world = World()
    a, b = world.new_card(b"A", START), world.new_card(b"B")
    victim = a if victim_name == "payer" else b
    victim.fault.cut_at = victim.fault.ops + cut
    challenge = payment = None
    try:
        challenge = b.client.make_challenge(X)
        payment = a.client.pay(challenge)
        b.client.accept(challenge, payment)
    except PowerCut:
        pass
    victim.power_cycle()
    return world, a, b, challenge, payment


def _check_payer(a, challenge, payment):
    """After the cut and reboot: debited with a journal entry, or neither; then a retry."""
    info = a.client.info()
    journalled = info.journal == 1
    assert info.balance == (START - X if journalled else START)
    assert info.counter == (1 if journalled else 0)
    retried = a.client.pay(challenge)
    if journalled:
        assert a.client.read_journal(0) == retried
    if payment is not None:
        assert retried == payment
    info = a.client.info()
    assert info.balance == START - X and info.journal == 1 and info.counter == 1
    return retried


def _check_recipient(b, challenge, payment, restarted):
    """Credited with its log queued, or neither. A recipient that did not restart credits a
    payment it has not yet credited, once; one that restarted refuses it: a pending challenge
    does not outlive a restart, so the payment stays in doubt in the payer's journal and is
    refunded (docs/PROTOCOL.md section 7.1). Returns what is left in doubt."""
    info = b.client.info()
    assert info.balance in (0, X) and info.outbox == (1 if info.balance else 0)
    if info.balance == 0 and not restarted:
        assert b.client.accept(challenge, payment) == (X, X)
    with raises(CardError) as caught:
        b.client.accept(challenge, payment)
    assert caught.value.sw == proto.SW_CHALLENGE_UNKNOWN
    after = b.client.info()
    assert after.outbox == (1 if after.balance else 0)
    return X - after.balance


def test_power_cut_at_every_store_operation():
    payer_ops, recipient_ops = _ops_of_a_transfer()
    assert payer_ops >= 3 and recipient_ops >= 5
    for victim, ops in (("payer", payer_ops), ("recipient", recipient_ops)):
        for cut in range(1, ops + 1):
            _, a, b, challenge, payment = _cut_transfer(victim, cut)
            restarted = victim == "recipient"
            if challenge is None:
                # Cut while B stored its challenge counter: nothing left B; start over.
                assert b.client.info().balance == 0
                challenge = b.client.make_challenge(X)
                restarted = False  # This challenge was made after the restart.
            payment = _check_payer(a, challenge, payment)
            in_doubt = _check_recipient(b, challenge, payment, restarted)
            total = a.client.info().balance + b.client.info().balance + in_doubt
            assert total == START, "value created or lost at cut %d of the %s" % (cut, victim)


def test_challenge_ids_are_never_reused_after_a_cut():
    world = World()
    b = world.new_card(b"B")
    seen = []
    for cut in (1, 2):
        seen.append(Challenge.decode(b.client.make_challenge(5)).chall_id)
        b.fault.cut_at = b.fault.ops + cut
        try:
            seen.append(Challenge.decode(b.client.make_challenge(5)).chall_id)
        except PowerCut:
            pass
        b.power_cycle()
    seen.append(Challenge.decode(b.client.make_challenge(5)).chall_id)
    counters = [int.from_bytes(c[:4], "big") for c in seen]
    assert len(set(counters)) == len(counters)
    assert counters == sorted(counters)
