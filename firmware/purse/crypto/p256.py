"""P-256 (secp256r1) field arithmetic and point operations in Jacobian coordinates.

Every multiplication or squaring modulo p is counted: the benchmark and the budgets of
docs/DESIGN.md section 9 read that counter. `fmul` counts its own; `double` and `add_affine`,
where nearly all of them happen, write their products out and count them per formula (a call
costs about a sixteenth of a 256-bit product and reduction on MicroPython: measured with
callgrind on the Unix port, 17.5k instructions through `fmul` against 16.5k written out, of
which 11.1k are the reduction). Multiplications modulo n go through `nmul` and inversions
through `inverse`, each with its own counter, because the budgets report them apart.

Measured on the MicroPython Unix port, a plain `a * b % P` on 256-bit integers is faster than
a special P-256 reduction written in Python (about 1.7 us against 2.8 us), so `fmul` uses `%`.
Additions and subtractions are left unreduced where the next step is an `fmul`, whose `%`
reduces any integer, negative ones included; results that leave a formula are reduced.

A point in Jacobian coordinates is a tuple (X, Y, Z) for the affine point (X/Z^2, Y/Z^3); the
point at infinity has Z == 0. Affine points are tuples (x, y).
"""

from purse.compat import const

# Curve parameters of SEC 2 v2 section 2.4.2 (FIPS 186-5, SP 800-186): y^2 = x^3 - 3x + b.
P = const(0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF)
N = const(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551)
B = const(0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B)
GX = const(0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296)
GY = const(0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)
HALF_N = const(0x7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8)

INFINITY = (1, 1, 0)

_fmuls = 0
_nmuls = 0
_inversions = 0


def counters():
    """(field multiplications, mod-n multiplications, inversions) since the last reset."""
    return _fmuls, _nmuls, _inversions


def reset_counters():
    global _fmuls, _nmuls, _inversions
    _fmuls = _nmuls = _inversions = 0


def fmul(a, b):
    """a * b mod p: the one function every field multiplication and squaring goes through."""
    global _fmuls
    _fmuls += 1
    return a * b % P


def nmul(a, b):
    """a * b mod n, counted apart from the field multiplications."""
    global _nmuls
    _nmuls += 1
    return a * b % N


def inverse(a, m):
    """The inverse of a modulo m (p or n) by the extended Euclidean algorithm.

    MicroPython's pow(a, -1, m) silently returns 0 and its three-argument pow is slow, hence
    this loop. The running time depends on the value; callers that invert a secret blind it
    first. Raises ValueError for a value that has no inverse (a multiple of m).
    """
    global _inversions
    _inversions += 1
    low = a % m
    if low == 0:
        raise ValueError("zero has no inverse")
    high = m
    lm = 1
    hm = 0
    while low > 1:
        q = high // low
        lm, hm = hm - lm * q, lm
        low, high = high - low * q, low
    return lm % m


def fsqrt(c):
    """A square root of c modulo p, or None if c is not a square.

    p = 3 (mod 4), so c^((p+1)/4) is a root when one exists. The exponent is
    (2^32 - 1) * 2^222 + 2^190 + 2^94; the chain below builds c^(2^32 - 1) with 31 squarings
    and 5 multiplications, then shifts and adds the two lone bits: 260 field multiplications.
    """
    c %= P
    t = c
    k = 1
    while k < 32:  # t = c^(2^k - 1) -> c^(2^2k - 1)
        u = t
        for _ in range(k):
            u = fmul(u, u)
        t = fmul(u, t)
        k += k
    for shift in (32, 96):
        for _ in range(shift):
            t = fmul(t, t)
        t = fmul(t, c)
    for _ in range(94):
        t = fmul(t, t)
    if fmul(t, t) != c:
        return None
    return t


def on_curve(x, y):
    """Whether the affine point (x, y), with both coordinates already in [0, p), is on P-256."""
    return fmul(y, y) == (fmul(fmul(x, x) - 3, x) + B) % P


def double(pt):
    """2 * pt in Jacobian coordinates (see double_n)."""
    return double_n(pt, 1)


def double_n(pt, k):
    """2^k * pt in Jacobian coordinates, with the a = -3 formula: 3M + 5S = 8 field mults each.

    Doubling infinity gives infinity (Z stays 0); P-256 has no point of order 2. The products
    are written out rather than called through `fmul` (and counted once for the formula): on
    MicroPython a call costs about a sixteenth of a 256-bit multiplication and reduction. A
    run of doublings stays in local variables: a tuple and a call for each would cost about a
    tenth of a doubling more.
    """
    global _fmuls
    _fmuls += 8 * k
    p = P
    x1, y1, z1 = pt
    for _ in range(k):
        delta = z1 * z1 % p
        gamma = y1 * y1 % p
        beta = x1 * gamma % p
        alpha = 3 * ((x1 - delta) * (x1 + delta) % p)
        z1 = (y1 + y1) * z1 % p
        x3 = (alpha * alpha - 8 * beta) % p
        # gamma^2 is left unreduced: the one reduction of the sum costs what one of either
        # part would (the reductions are two thirds of a product's cost).
        y1 = (alpha * (4 * beta - x3) - 8 * (gamma * gamma)) % p
        x1 = x3
    return (x1, y1, z1)


def add_affine(pt, x2, y2):
    """pt + (x2, y2) for a Jacobian pt and an affine point: 8M + 3S = 11 field mults.

    The exceptional cases (pt at infinity, pt equal to the affine point or to its negative)
    are handled explicitly; h and r lie in (-p, p), so they are zero exactly when the x or the
    y coordinates agree. In signing they occur with negligible probability, so the branches
    do not change the sequence of operations in practice. The products are written out, as in
    `double`, and counted as they are made.
    """
    global _fmuls
    x1, y1, z1 = pt
    if z1 == 0:
        return (x2, y2, 1)
    p = P
    t1 = z1 * z1 % p
    h = x2 * t1 % p - x1
    r = y2 * (t1 * z1 % p) % p - y1
    if h == 0:
        _fmuls += 4
        if r == 0:
            return double((x2, y2, 1))
        return INFINITY
    _fmuls += 11
    h2 = h * h % p
    h3 = h2 * h % p
    v = x1 * h2 % p
    x3 = (r * r - h3 - v - v) % p
    y3 = (r * (v - x3) - y1 * h3) % p
    return (x3, y3, z1 * h % p)


def to_affine(pt):
    """The affine (x, y) of a Jacobian point; infinity raises ValueError."""
    x, y, z = pt
    if z == 0:
        raise ValueError("the point at infinity has no affine form")
    zi = inverse(z, P)
    zi2 = fmul(zi, zi)
    return fmul(x, zi2), fmul(y, fmul(zi2, zi))


def batch_affine(points):
    """Affine forms of a list of finite Jacobian points with one inversion (Montgomery's trick).

    Costs 3(k-1) field multiplications for the shared inversion and 4 per point. The list is
    emptied as its points are converted (each entry set to None), and so are the partial
    products: a card's heap holds each point in one form at a time, not the Jacobian list and
    the affine one at once (the largest thing a verification against an unknown key builds).
    """
    count = len(points)
    prefix = [0] * count
    acc = 1
    for i in range(count):
        z = points[i][2]
        acc = z if i == 0 else fmul(acc, z)
        prefix[i] = acc
    inv = inverse(acc, P)
    acc = None
    out = [None] * count
    for i in range(count - 1, -1, -1):
        x, y, z = points[i]
        points[i] = prefix[i] = None
        if i:
            zi = fmul(inv, prefix[i - 1])
            inv = fmul(inv, z)
        else:
            zi = inv
        zi2 = fmul(zi, zi)
        out[i] = (fmul(x, zi2), fmul(y, fmul(zi2, zi)))
    return out
