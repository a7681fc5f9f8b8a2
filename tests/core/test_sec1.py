"""SEC1 point encoding and full public-key validation, including its negative cases."""

from _check import raises

from purse.crypto import encoding, p256
from purse.errors import InvalidKey

GX = p256.GX
GY = p256.GY
P = p256.P
G_COMPRESSED = b"\x03" + GX.to_bytes(32, "big") if GY & 1 else b"\x02" + GX.to_bytes(32, "big")
G_UNCOMPRESSED = b"\x04" + GX.to_bytes(32, "big") + GY.to_bytes(32, "big")


def test_round_trip():
    assert encoding.encode_point(GX, GY) == G_COMPRESSED
    assert encoding.encode_point(GX, GY, compressed=False) == G_UNCOMPRESSED
    assert encoding.decode_point(G_COMPRESSED) == (GX, GY)
    assert encoding.decode_point(G_UNCOMPRESSED) == (GX, GY)
    other = bytes((G_COMPRESSED[0] ^ 1,)) + G_COMPRESSED[1:]
    assert encoding.decode_point(other) == (GX, P - GY)


def test_off_curve():
    bad = b"\x04" + GX.to_bytes(32, "big") + (GY + 1).to_bytes(32, "big")
    with raises(InvalidKey):
        encoding.decode_point(bad)
    # x = 0 gives y^2 = b, which is not a square modulo p: no point has x = 0... check both.
    for x in range(0, 40):
        c = (x * x * x - 3 * x + p256.B) % P
        if p256.fsqrt(c) is None:
            with raises(InvalidKey):
                encoding.decode_point(b"\x02" + x.to_bytes(32, "big"))
            return
    raise AssertionError("no non-square found")


def test_coordinates_not_below_p():
    # x + p and y + p satisfy the curve equation modulo p; they must still be refused.
    x = 0
    while p256.fsqrt((x * x * x - 3 * x + p256.B) % P) is None:
        x += 1
    y = p256.fsqrt((x * x * x - 3 * x + p256.B) % P)
    assert encoding.decode_point(encoding.encode_point(x, y, False)) == (x, y)
    big_x = (x + P).to_bytes(32, "big")
    for data in (b"\x02" + big_x, b"\x03" + big_x, b"\x04" + big_x + y.to_bytes(32, "big"),
                 b"\x04" + P.to_bytes(32, "big") + GY.to_bytes(32, "big"),
                 b"\x04" + GX.to_bytes(32, "big") + P.to_bytes(32, "big"),
                 b"\x02" + P.to_bytes(32, "big"), b"\x03" + b"\xff" * 32):  # fmt: skip
        with raises(InvalidKey):
            encoding.decode_point(data)
    if y + P < (1 << 256):
        with raises(InvalidKey):
            encoding.decode_point(b"\x04" + x.to_bytes(32, "big") + (y + P).to_bytes(32, "big"))


def test_infinity_and_lengths():
    for data in (b"", b"\x00", b"\x00" * 33, b"\x00" * 65, G_COMPRESSED[:-1],
                 G_COMPRESSED + b"\x00", G_UNCOMPRESSED[:-1], G_UNCOMPRESSED + b"\x00",
                 b"\x04" + G_COMPRESSED[1:], b"\x02" + G_UNCOMPRESSED[1:],
                 b"\x05" + G_COMPRESSED[1:], b"\x06" + G_UNCOMPRESSED[1:],
                 b"\x07" + G_UNCOMPRESSED[1:]):  # fmt: skip
        with raises(InvalidKey):
            encoding.decode_point(data)
