"""Challenge sealing (purse.crypto.seal): round trips, tamper rejection and known answers."""

from _check import raises, unhex

from purse.crypto.seal import TAG_SIZE, SealKey, open_sealed, seal
from purse.errors import SealError

# Home-made known answers: (key, nonce, associated data, plaintext, blob), all hex. The blobs
# were computed from the specification in seal.py's docstring by the independent checker in
# tests/host/test_seal_independent.py (CPython's stdlib hmac, no code from purse), which reads
# this table and recomputes every row (CONVENTIONS 17). The first row is a challenge: R1 = 10..1f,
# R2 = 20..2f, x = 1000, ChallID = 1; the second seals nothing; the third spans three keystream
# blocks.
KNOWN_ANSWERS = (
    (
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "0000000000000001",
        "",
        "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f000003e80000000000000001",
        "e9ceb229a3b76ad11827bbd647327afa49c8b0f795bd5fdf4b3c0701ed72d380"
        "fff3a8c83ab37ff76a82aa68"
        "661f8a62ed8df780bd74600966211aaa",
    ),
    (
        "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0efeeedecebeae9e8e7e6e5e4e3e2e1e0",
        "a0a1a2a3a4a5a6a7",
        "69637075727365206368616c6c656e6765",
        "",
        "113ad5048627eb0da59985bc4749a8e5",
    ),
    (
        "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf",
        "01020304",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
        "404142434445",
        "95fcbb4c0517a4b92d8584ab3036d9899a90bbb86548a452ee683de7bf95250c"
        "6e7d312bae0475a414d71176f936b6cb4501ec2405121cc447c14adc2a142ad3"
        "64a975e09b69"
        "f1f5dccb27807de8d2b1989e72222a14",
    ),
)

KEY = bytes(range(32))
NONCE = b"\x00\x00\x00\x00\x00\x00\x00\x2a"
# A challenge-shaped plaintext: R1 (16) || R2 (16) || x (4) || ChallID (8).
CHALLENGE = bytes(range(0x40, 0x60)) + b"\x00\x01\x86\xa0" + NONCE


def _flip(data, bit):
    out = bytearray(data)
    out[bit >> 3] ^= 0x80 >> (bit & 7)
    return bytes(out)


def _bits_set(value):
    n = 0
    while value:
        n += value & 1
        value >>= 1
    return n


def test_known_answers():
    for key, nonce, ad, plaintext, blob in KNOWN_ANSWERS:
        key, nonce, ad, plaintext, blob = (unhex(v) for v in (key, nonce, ad, plaintext, blob))
        assert seal(key, nonce, plaintext, ad) == blob
        assert open_sealed(key, nonce, blob, ad) == plaintext
        assert SealKey(key).open(nonce, blob, ad, len(plaintext)) == plaintext


def test_round_trip_lengths():
    box = SealKey(KEY)
    for n in (0, 1, 15, 16, 31, 32, 33, 44, 63, 64, 65, 100):
        plaintext = bytes((7 * i + n) & 0xFF for i in range(n))
        for ad in (b"", b"a", b"associated data that is longer than one block of sha-256 input"):
            blob = box.seal(NONCE, plaintext, ad)
            assert len(blob) == n + TAG_SIZE
            assert box.open(NONCE, blob, ad) == plaintext
            assert open_sealed(KEY, NONCE, blob, ad) == plaintext


def test_round_trip_challenge_and_buffer_types():
    blob = seal(KEY, NONCE, CHALLENGE)
    assert len(blob) == 44 + TAG_SIZE
    assert isinstance(blob, bytes)
    opened = open_sealed(KEY, NONCE, blob, plaintext_length=44)
    assert opened == CHALLENGE
    assert isinstance(opened, bytes)
    # Inputs may be any bytes-like object, as a parser handing out memoryviews would pass them.
    box = SealKey(bytearray(KEY))
    assert box.seal(memoryview(NONCE), memoryview(CHALLENGE), memoryview(b"ad")) == seal(
        KEY, NONCE, CHALLENGE, b"ad"
    )
    assert box.open(bytearray(NONCE), memoryview(blob)) == CHALLENGE
    assert box.open(NONCE, bytearray(blob)) == CHALLENGE


def test_ciphertext_hides_plaintext():
    blob = seal(KEY, NONCE, CHALLENGE)
    assert blob[:44] != CHALLENGE
    # The plaintext's known 8-byte ChallID must not show through in the clear.
    assert NONCE not in blob


def test_every_bit_flip_of_the_blob_is_rejected():
    box = SealKey(KEY)
    blob = box.seal(NONCE, CHALLENGE, b"ad")
    for bit in range(len(blob) * 8):
        with raises(SealError):
            box.open(NONCE, _flip(blob, bit), b"ad")


def test_every_bit_flip_of_the_nonce_and_ad_is_rejected():
    box = SealKey(KEY)
    ad = b"\x00\xff\x5a"
    blob = box.seal(NONCE, CHALLENGE, ad)
    for bit in range(len(NONCE) * 8):
        with raises(SealError):
            box.open(_flip(NONCE, bit), blob, ad)
    for bit in range(len(ad) * 8):
        with raises(SealError):
            box.open(NONCE, blob, _flip(ad, bit))


def test_wrong_key_rejected():
    blob = seal(KEY, NONCE, CHALLENGE)
    with raises(SealError):
        open_sealed(bytes(32), NONCE, blob)
    for bit in (0, 7, 128, 255):
        with raises(SealError):
            open_sealed(_flip(KEY, bit), NONCE, blob)


def test_wrong_nonce_rejected():
    blob = seal(KEY, NONCE, CHALLENGE)
    for other in (bytes(8), NONCE + b"\x00", b"\x00" + NONCE, NONCE[:7] + b"\x2b"):
        with raises(SealError):
            open_sealed(KEY, other, blob)


def test_wrong_associated_data_rejected():
    blob = seal(KEY, NONCE, CHALLENGE, b"payee")
    for other in (b"", b"payeE", b"payee\x00", b"\x00payee", b"paye"):
        with raises(SealError):
            open_sealed(KEY, NONCE, blob, other)
    blob = seal(KEY, NONCE, CHALLENGE)
    with raises(SealError):
        open_sealed(KEY, NONCE, blob, b"\x00")


def test_nonce_and_ad_boundary_is_bound():
    # Moving a byte from the end of the nonce to the start of the AD must change the tag.
    nonce = b"abcdefgh" + b"i"
    blob = seal(KEY, nonce, CHALLENGE, b"j")
    with raises(SealError):
        open_sealed(KEY, b"abcdefgh", blob, b"ij")
    with raises(SealError):
        open_sealed(KEY, nonce + b"j", blob, b"")


def test_truncated_blob_rejected():
    box = SealKey(KEY)
    blob = box.seal(NONCE, CHALLENGE)
    for n in range(len(blob)):
        with raises(SealError):
            box.open(NONCE, blob[:n])
        # Cutting bytes off the front moves the tag boundary; that must fail as well.
        with raises(SealError):
            box.open(NONCE, blob[len(blob) - n :])


def test_extended_blob_rejected():
    box = SealKey(KEY)
    blob = box.seal(NONCE, CHALLENGE)
    for extra in (b"\x00", b"\xff", bytes(TAG_SIZE), blob[-TAG_SIZE:]):
        with raises(SealError):
            box.open(NONCE, blob + extra)
        with raises(SealError):
            box.open(NONCE, extra + blob)


def test_short_and_wrong_length_messages():
    box = SealKey(KEY)
    with raises(SealError, match="too short"):
        box.open(NONCE, bytes(TAG_SIZE - 1))
    blob = box.seal(NONCE, CHALLENGE)
    with raises(SealError, match="wrong length"):
        box.open(NONCE, blob, plaintext_length=43)
    with raises(SealError, match="wrong length"):
        box.open(NONCE, blob + b"\x00", plaintext_length=44)
    with raises(SealError, match="does not open") as caught:
        box.open(NONCE, _flip(blob, 3))
    # The message is the same fixed text whatever was wrong, with no byte of tag or key in it.
    assert str(caught.value) == "sealed blob does not open"


def test_an_empty_seal_still_authenticates():
    blob = seal(KEY, NONCE, b"", b"context")
    assert len(blob) == TAG_SIZE
    assert open_sealed(KEY, NONCE, blob, b"context") == b""
    with raises(SealError):
        open_sealed(KEY, NONCE, blob, b"other")


def test_two_nonces_give_unrelated_ciphertexts():
    box = SealKey(KEY)
    zeros = bytes(64)
    a = box.seal(NONCE, zeros)
    b = box.seal(_flip(NONCE, 63), zeros)
    # Sealing zeros exposes the keystream itself; two keystreams from nonces one bit apart must
    # look independent: almost no equal bytes and about half of the 640 bits different.
    # (Indexing instead of zip: MicroPython's zip has no strict= for the linter to see.)
    equal_bytes = sum(1 for i in range(len(a)) if a[i] == b[i])
    assert equal_bytes <= 3
    differing = sum(_bits_set(a[i] ^ b[i]) for i in range(len(a)))
    assert 240 <= differing <= 400
    # Blocks of one keystream are unrelated to each other too.
    assert a[:32] != a[32:64]


def test_same_inputs_seal_deterministically():
    # The nonce is the only variation: this is why ChallID must never repeat under one K.
    assert seal(KEY, NONCE, CHALLENGE, b"x") == seal(KEY, NONCE, CHALLENGE, b"x")
    assert seal(KEY, NONCE, CHALLENGE) != seal(_flip(KEY, 0), NONCE, CHALLENGE)


def test_key_and_nonce_sizes_checked():
    for size in (0, 16, 31, 33, 64):
        with raises(SealError, match="key"):
            SealKey(bytes(size))
    box = SealKey(KEY)
    for nonce in (b"", b"1234567", bytes(256)):
        with raises(SealError, match="nonce"):
            box.seal(nonce, CHALLENGE)
        with raises(SealError, match="nonce"):
            box.open(nonce, bytes(60))
    assert box.open(bytes(255), box.seal(bytes(255), b"ok")) == b"ok"
