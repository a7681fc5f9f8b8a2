"""P-256 field and point arithmetic, checked against independent plain-integer formulas."""

from _check import raises

from purse.crypto import p256, scalarmul, tables

P = p256.P
N = p256.N
G = (p256.GX, p256.GY)


def affine_add(a, b):
    """Textbook affine addition with Fermat inverses: an independent reference."""
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = (3 * a[0] * a[0] - 3) * pow(2 * a[1], P - 2, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], P - 2, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return x, (lam * (a[0] - x) - a[1]) % P


def affine_mul(k, pt):
    acc = None
    while k:
        if k & 1:
            acc = affine_add(acc, pt)
        pt = affine_add(pt, pt)
        k >>= 1
    return acc


def test_generator_on_curve_and_order():
    assert p256.on_curve(p256.GX, p256.GY)
    assert not p256.on_curve(p256.GX, p256.GY + 1)
    assert affine_mul(N - 1, G) == (p256.GX, P - p256.GY)


def test_inverse():
    for a in (1, 2, 3, P - 1, p256.GX, 0x1234567890ABCDEF):
        assert a * p256.inverse(a, P) % P == 1
        assert a * p256.inverse(a, N) % N == 1
    with raises(ValueError):
        p256.inverse(0, P)
    with raises(ValueError):
        p256.inverse(N, N)


def test_sqrt():
    y2 = (p256.GX**3 - 3 * p256.GX + p256.B) % P
    root = p256.fsqrt(y2)
    assert root in (p256.GY, P - p256.GY)
    # -1 is not a square modulo p because p = 3 (mod 4).
    assert p256.fsqrt(P - 1) is None


def test_double_and_add_match_affine():
    g2 = affine_add(G, G)
    assert p256.to_affine(p256.double((p256.GX, p256.GY, 1))) == g2
    g3 = affine_add(g2, G)
    jac = p256.double((p256.GX, p256.GY, 1))
    assert p256.to_affine(p256.add_affine(jac, p256.GX, p256.GY)) == g3
    # Exceptional cases: doubling through add, cancelling to infinity, adding to infinity.
    assert p256.to_affine(p256.add_affine((p256.GX, p256.GY, 1), p256.GX, p256.GY)) == g2
    assert p256.add_affine((p256.GX, p256.GY, 1), p256.GX, P - p256.GY)[2] == 0
    assert p256.add_affine(p256.INFINITY, p256.GX, p256.GY) == (p256.GX, p256.GY, 1)
    assert p256.double(p256.INFINITY)[2] == 0


def test_a_run_of_doublings_is_that_many_doublings():
    pt = p256.add_affine(p256.double((p256.GX, p256.GY, 1)), p256.GX, p256.GY)
    for k in (1, 2, 4, 17):
        p256.reset_counters()
        run = p256.double_n(pt, k)
        assert p256.counters()[0] == 8 * k
        want = pt
        for _ in range(k):
            want = p256.double(want)
        assert run == want
        assert p256.to_affine(run) == affine_mul(3 << k, G)
    assert p256.double_n(p256.INFINITY, 3)[2] == 0


def naf(k, width, length):
    """The width-w NAF of k by its definition, on one big integer: the reference for _wnaf."""
    digits = []
    while len(digits) < length:
        d = 0
        if k & 1:
            d = k % (1 << width)
            if d >= 1 << (width - 1):
                d -= 1 << width
            k -= d
        digits.append(0x80 | -d if d < 0 else d)
        k >>= 1
    return None if k else bytes(digits)


def test_wnaf_digits_are_the_definitions():
    buf = bytearray(300)
    scalars = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x155, N - 1, N, P, (1 << 256) - 1, (1 << 255) + 1]
    x = 0x9E3779B97F4A7C15
    for _ in range(12):  # Scalars of every length, from a fixed sequence (no RNG on the core).
        x = x * x % P
        scalars += [x, x >> 100, x >> 200, x >> 240]
    for width in range(2, 9):
        for length in (17, 33, 129, 257):
            for k in scalars + [(1 << (length - 1)) - 1, (1 << length) - 1, 1 << length]:
                want = naf(k, width, length)
                buf[:] = b"\x55" * 300
                if want is None:
                    with raises(ValueError):
                        scalarmul._wnaf(k, width, buf, 3, length)
                else:
                    scalarmul._wnaf(k, width, buf, 3, length)
                    assert bytes(buf[3 : 3 + length]) == want, (k, width, length)
                # Nothing written outside the digits' place, whatever the outcome.
                assert buf[:3] == b"\x55" * 3 and buf[3 + length :] == b"\x55" * (297 - length)
    with raises(ValueError):  # More digits than the zeros it writes first: refused.
        scalarmul._wnaf(1, 5, buf, 0, 258)
    assert len(buf) == 300


def test_odd_multiples_of_a_table_are_the_references():
    q = affine_mul(0xC0FFEE, G)
    for width in (2, 5, 8):
        table = tables.build(q[0], q[1], 2, width)
        for span in range(2):
            for i in range(table.count):
                assert table.point(span, i) == affine_mul((2 * i + 1) << (128 * span), q)


def test_batch_affine():
    pts = [p256.double((p256.GX, p256.GY, 1))]
    pts.append(p256.double(pts[0]))
    pts.append(p256.add_affine(pts[1], p256.GX, p256.GY))
    want = [p256.to_affine(pt) for pt in pts]
    assert p256.batch_affine(pts) == want
    # The list is emptied as its points are converted: one form of each point at a time.
    assert pts == [None] * len(want)


def test_comb_matches_reference():
    comb = tables.generator_comb()
    for k in (1, 2, 3, 15, 16, 17, 0xFFFF, 1 << 200, N - 1, N - 2, 0x1234567 << 100):
        assert scalarmul.comb_mul(comb, k) == affine_mul(k, G), k


def test_straus_matches_reference():
    q = affine_mul(0xDEADBEEF, G)
    own = tables.build(q[0], q[1], 1, 5)
    keyed = tables.build(q[0], q[1], 16, 5)
    eight = tables.build(q[0], q[1], 8, 4)
    pairs = (
        (tables.generator_wnaf(), own),
        (tables.generator_comb(), keyed),
        (tables.generator_comb(), own),
        (tables.generator_wnaf(), eight),
    )
    # N - 1 and (1 << 255) + ... have a w-NAF digit at 256, which no span's bits hold: it is
    # the last span's, one doubling above its others.
    scalars = (
        (0, 1),
        (1, 0),
        (5, 7),
        (N - 1, 1),
        (0xABCDEF << 150, N - 3),
        ((1 << 255) + 1, N - 1),
    )
    for a, b in scalars:
        want = affine_add(affine_mul(a, G), affine_mul(b, q))
        for gt, qt in pairs:
            assert p256.to_affine(scalarmul.straus(gt, a, qt, b)) == want
    assert scalarmul._DIGITS[0][256] or scalarmul._DIGITS[1][256]  # The top digit was used.


def test_straus_cancels_to_infinity():
    # 1*G + (n-1)*G is the point at infinity.
    gt = tables.generator_wnaf()
    assert scalarmul.straus(gt, 1, gt, N - 1)[2] == 0


def test_table_entries():
    comb = tables.generator_comb()
    assert comb.nbytes() == 16 * 8 * 64
    assert comb.point(0, 0) == G
    assert comb.point(0, 7) == affine_mul(15, G)
    assert comb.point(3, 1) == affine_mul(3 << 48, G)
    with raises(ValueError):
        tables.build(p256.GX, p256.GY, 3, 5)


def test_counters():
    p256.reset_counters()
    p256.fmul(3, 4)
    p256.nmul(3, 4)
    p256.inverse(3, P)
    assert p256.counters() == (1, 1, 1)
