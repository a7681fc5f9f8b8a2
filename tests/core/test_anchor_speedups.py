"""A card's speed-ups for the keys it trusts (issue 23): precomputed tables of its anchors,
kept in its store, and signatures under them remembered once verified. They must change no
answer: a damaged table or one of another key is never used, and a remembered credential is
refused as soon as its card is revoked or its certificate has expired.

The field multiplications the backend counts (purse.crypto.p256.counters) show which path a
verification took, on CPython and on MicroPython alike.
"""

from _cards import World
from _check import raises
from _example import NOT_BEFORE

from purse.client import CardError
from purse.crypto import p256
from purse.crypto.pure import PureBackend
from purse.errors import InvalidKey, InvalidSignature
from purse.records.credentials import Certificate
from purse.wallet.card import ANCHOR_TABLES

# Small tables (2 KiB each) keep the tests quick; a board's profile chooses 16 or 8 spans.
SPANS = 4


def _fmuls(call, *args):
    p256.reset_counters()
    out = call(*args)
    return p256.counters()[0], out


def _certificate_check(card):
    """The field multiplications of verifying the card's own certificate with its PkT."""
    cert = card.card.certificate()
    return _fmuls(cert.verify, card.card.backend, card.card.state.ca_key)[0]


def test_anchor_tables_are_made_at_provisioning_and_read_at_boot():
    world = World()
    fast = world.new_card(b"F", 100, anchor_spans=SPANS, backend=PureBackend())
    plain = world.new_card(b"P", 100, backend=PureBackend())
    for _, name in ANCHOR_TABLES:
        assert len(fast.memory.files[name]) == SPANS * 512 + 13, name
        assert name not in plain.memory.files
    # A verification against a table costs well under one against a bare key (each card
    # remembers its certificate, verified at provisioning: forgotten here to count again).
    fast.card.backend.forget_verified()
    plain.card.backend.forget_verified()
    with_table = _certificate_check(fast)
    without = _certificate_check(plain)
    assert with_table < 0.7 * without, (with_table, without)
    # A boot reads the tables and makes none: it only checks that each table's first point
    # is its key on the curve (3 multiplications each), where making one takes thousands.
    stored = dict(fast.memory.files)
    built, _ = _fmuls(fast.power_cycle)
    assert built == 3 * len(ANCHOR_TABLES), built
    assert fast.memory.files == stored
    fast.card.backend.forget_verified()
    assert _certificate_check(fast) == with_table


def test_a_damaged_table_or_one_of_another_key_is_made_again():
    world = World()
    card = world.new_card(b"F", 100, anchor_spans=SPANS, backend=PureBackend())
    good = dict(card.memory.files)
    # A flipped bit (the store's CRC refuses the file), then the CA's table as the issuer's
    # (a well-formed file of another key).
    damaged = bytearray(good["tableI"])
    damaged[100] ^= 1
    for name, data in (("tableI", bytes(damaged)), ("tableI", good["tableT"])):
        card.memory.files[name] = data
        built, _ = _fmuls(card.power_cycle)
        assert built > 1000, "the table was taken as it was"
        assert card.memory.files == good
    # And the card still trades.
    payer = world.new_card(b"A", 1000)
    world.transfer(payer, card, 25)
    assert card.client.info().balance == 125


def test_a_repeat_payers_credentials_are_not_verified_again():
    world = World()
    a = world.new_card(b"A", 1000)
    b = world.new_card(b"B", anchor_spans=SPANS, backend=PureBackend())
    first, _ = _fmuls(world.transfer, a, b, 10)
    again, _ = _fmuls(world.transfer, a, b, 10)
    # CertT(A), VoucherI(A) and A's stamp are remembered; S, new each time, is not.
    assert again < 0.75 * first, (again, first)
    assert b.client.info().balance == 20


def test_a_remembered_credential_is_refused_once_its_card_is_revoked():
    world = World()
    a = world.new_card(b"A", 1000)
    b = world.new_card(b"B", anchor_spans=SPANS, backend=PureBackend())
    world.transfer(a, b, 10)
    b.client.install_revocation(world.revocation([a.card.card_id()]))
    with raises(CardError):
        world.transfer(a, b, 10)
    assert b.client.info().balance == 10


def test_a_remembered_certificate_is_refused_once_it_has_expired():
    world = World()
    # A's certificate ends a day after the world's L-time.
    end = world.ltime + 86400

    def short_lived(public_key, ca=None):
        world.serial += 1
        return Certificate(world.serial, public_key, NOT_BEFORE, end).sign(world.ca).encode()

    certify, world.certify = world.certify, short_lived
    a = world.new_card(b"A", 1000)
    world.certify = certify
    b = world.new_card(b"B", anchor_spans=SPANS, backend=PureBackend())
    world.transfer(a, b, 10)
    # Two days on, A syncs (a fresh stamp) and B learns the time from its logger's receipt
    # for the record of A's payment.
    world.ltime = end + 86400
    world.stamp(a)
    for record in b.client.outbox():
        b.client.take_receipt(world.receipt_for(record))
    with raises(CardError):
        world.transfer(a, b, 10)
    assert b.client.info().balance == 10


def test_recent_peers_keys_get_tables_and_only_the_last_few():
    signers = [PureBackend() for _ in range(3)]
    keys = [bytes([k + 1]) * 32 for k in range(3)]
    publics = [b.public_key(k) for b, k in zip(signers, keys)]
    signatures = [b.sign(k, b"payment") for b, k in zip(signers, keys)]
    backend = PureBackend(peer_spans=SPANS, peers=2)
    plain, _ = _fmuls(backend.verify, publics[0], b"payment", signatures[0])
    # Met once, a key gets no table: a passing payer costs a plain verification and evicts
    # nobody's table. Met again, it gets one; from then on it verifies faster.
    assert backend._peers == [] and backend._seen == [publics[0]]
    second, _ = _fmuls(backend.verify, publics[0], b"payment", signatures[0])
    assert second > plain and [e[0] for e in backend._peers] == [publics[0]]
    assert backend._seen == []
    again, _ = _fmuls(backend.verify, publics[0], b"payment", signatures[0])
    assert again < 0.7 * plain, (again, plain)
    # A wrong signature under a key with a table is refused as ever.
    with raises(InvalidSignature):
        backend.verify(publics[0], b"another payment", signatures[0])
    # Two more peers, each met twice: the first, least recently used, loses its table.
    for public, signature in zip(publics[1:], signatures[1:]):
        backend.verify(public, b"payment", signature)
        assert public not in [entry[0] for entry in backend._peers]
        backend.verify(public, b"payment", signature)
    assert [entry[0] for entry in backend._peers] == publics[1:]
    evicted, _ = _fmuls(backend.verify, publics[0], b"payment", signatures[0])
    assert 0.9 * plain < evicted < 1.1 * plain, (evicted, plain)
    # A malformed key is refused before any table is made, and is not kept.
    with raises(InvalidKey):
        backend.verify(b"\x02" + b"\xff" * 32, b"payment", signatures[0])
    assert [entry[0] for entry in backend._peers] == publics[1:]
    assert backend._seen == [publics[0]]


def test_signatures_that_do_not_verify_make_no_table_and_evict_none():
    """Attacker review: a hostile reader sending a real certificate with bad challenge
    signatures, twice per key, made a card build tables and evict a regular's."""
    signers = [PureBackend() for _ in range(3)]
    keys = [bytes([k + 1]) * 32 for k in range(3)]
    publics = [b.public_key(k) for b, k in zip(signers, keys)]
    signatures = [b.sign(k, b"payment") for b, k in zip(signers, keys)]
    backend = PureBackend(peer_spans=SPANS, peers=1)
    for _ in range(2):
        backend.verify(publics[0], b"payment", signatures[0])
    assert [entry[0] for entry in backend._peers] == [publics[0]]
    for public, signature in zip(publics[1:], signatures[1:]):
        for _ in range(3):
            with raises(InvalidSignature):
                backend.verify(public, b"another payment", signature)
    assert [entry[0] for entry in backend._peers] == [publics[0]]
    assert backend._seen == []


def test_keys_met_once_never_evict_a_regulars_table():
    """A shop's card sees many one-off payers between its regulars: remembering SEEN_MAX of
    them, it builds a table only for a key that comes back."""
    from purse.crypto.pure import SEEN_MAX

    signers = [PureBackend() for _ in range(SEEN_MAX + 2)]
    keys = [bytes([k + 1]) * 32 for k in range(len(signers))]
    publics = [b.public_key(k) for b, k in zip(signers, keys)]
    signatures = [b.sign(k, b"payment") for b, k in zip(signers, keys)]
    backend = PureBackend(peer_spans=SPANS, peers=1)
    for _ in range(2):
        backend.verify(publics[0], b"payment", signatures[0])
    for public, signature in zip(publics[1:], signatures[1:]):
        backend.verify(public, b"payment", signature)
    assert [entry[0] for entry in backend._peers] == [publics[0]]
    assert backend._seen == publics[-SEEN_MAX:]
