"""Scalar multiplication on P-256: a fixed-sequence comb for k*G, interleaved w-NAF for sums.

`comb_mul` (signing, key generation) recodes an odd scalar m < 2^256 into 64 signed odd
base-16 digits (Joye and Tunstall's regular recoding): no digit is zero, so every call runs
the same 63 mixed additions and 12 doublings (28 with the lean comb), in the same order,
whatever the scalar. An even scalar k is replaced by n - k, which is odd and gives -k*G: same
x, and the y is negated back.

Residual leakage, which docs/DESIGN.md section 4 asks us to state: this is Python on big integers.
The duration of each multiplication depends on the operands' values (leading zero digits are
skipped by the interpreter), table reads are indexed by secret digits, the sign of a digit
selects between y and p - y, and the final inversion of Z runs an extended Euclid whose number
of steps depends on Z. An attacker who can time single field operations or measure the power
of a board can learn about the nonce; the signer mixes RFC 6979 extra entropy on boards so that
such traces are not repeatable for one message.

`straus` computes a sum of scalar multiples for verification, where nothing is secret: each
scalar is recoded in width-w NAF as a whole, and its digit i is taken with its table's span
i // span_bits at position i % span_bits (digit 256 with the last span, at position span_bits),
so all the parts share one chain of doublings (Straus-Shamir). Recoding each span apart, as
this did before, ends every span with a digit of its own: 49.5 additions a scalar with 16
spans of width 5, against 43.1 for the whole scalar. Digits are kept in preallocated
bytearrays, one byte each (|d| in bits 0-6, the sign in bit 7), so a call allocates no
growing list.
"""

from purse.crypto import p256

# Digit buffers reused by every call (the core is single-threaded): the comb's 64 digits, and
# two scalars of 257 w-NAF digits each.
_COMB_DIGITS = bytearray(64)
_DIGITS = (bytearray(257), bytearray(257))
_ZEROS = bytes(257)
# The highest position of a scalar's w-NAF: below n < 2^256, 257 digits hold any.
_TOP = 256


def _wnaf(k, width, buf, start, length):
    """Write the width-`width` NAF of k >= 0 into buf[start:start + length], lowest first.

    The scalar is read a byte at a time into `acc`, a small integer: the part of what remains
    of k below the bits not read yet (which start at bit `have` of acc), with the carry that
    subtracting a negative digit leaves in it. Shifting a 256-bit k right at each of its 257
    positions made a new big integer each time. A digit d leaves acc - d a multiple of
    2^width, so the width - 1 digits after it are zeros, written with the rest beforehand.
    """
    mask = (1 << width) - 1
    half = 1 << (width - 1)
    full = 1 << width
    if length > len(_ZEROS):
        raise ValueError("no room for %d digits" % length)
    nbytes = (length + 7) >> 3
    if k >> (nbytes << 3):
        raise ValueError("scalar too large for the table")
    data = k.to_bytes(nbytes, "little")
    end = start + length
    buf[start:end] = _ZEROS[:length]
    acc = 0
    have = 0
    nxt = 0
    i = start
    while i < end:
        # At least width + 1 bits known, so that acc's low bits are k's and the digit is.
        if have <= width and nxt < nbytes:
            acc += data[nxt] << have
            nxt += 1
            have += 8
        if acc & 1:
            d = acc & mask
            if d >= half:
                d -= full
                buf[i] = 0x80 | -d
            else:
                buf[i] = d
            acc = (acc - d) >> width
            have -= width
            i += width
        else:
            acc >>= 1
            have -= 1
            i += 1
    if acc or any(data[nxt:]):
        raise ValueError("scalar too large for the table")


def comb_mul(table, k):
    """k * P as an affine (x, y) for 0 < k < n, with the fixed operation sequence above.

    `table` must have the comb's shape: 16 spans of 16 bits (12 doublings), or the lean
    comb's 8 spans of 32 bits (28 doublings; purse.crypto.tables.lean), odd multiples up to 15.
    The digits of span j are digits[rows * j : rows * (j + 1)], lowest first.
    """
    if table.spans not in (8, 16) or table.width != 5:
        raise ValueError("comb_mul needs an 8- or 16-span, width-5 table")
    spans = table.spans
    rows = 64 // spans
    odd = k & 1
    m = k if odd else p256.N - k
    digits = _COMB_DIGITS
    for i in range(63):
        d = (m & 31) - 16
        m = (m - d) >> 4
        digits[i] = (-d) | 0x80 if d < 0 else d
    if m > 15 or not m & 1:
        raise ValueError("scalar out of range")
    digits[63] = m
    data = memoryview(table.data)
    acc = None
    for r in range(rows - 1, -1, -1):
        if acc is not None:
            acc = p256.double_n(acc, 4)
        for j in range(spans):
            e = digits[rows * j + r]
            o = (j * 8 + ((e & 0x7F) >> 1)) << 6
            x = int.from_bytes(data[o : o + 32], "big")
            y = int.from_bytes(data[o + 32 : o + 64], "big")
            y = (p256.P - y, y)[(e >> 7) ^ 1]
            if acc is None:
                acc = (x, y, 1)
            else:
                acc = p256.add_affine(acc, x, y)
    x, y = p256.to_affine(acc)
    return x, (p256.P - y, y)[odd]


def straus(table_a, k_a, table_b, k_b):
    """k_a * A + k_b * B as a Jacobian point (possibly infinity), for public k_a, k_b in [0, n).

    A and B are given by their tables; the tables may have different shapes.
    """
    terms = ((table_a, k_a, _DIGITS[0]), (table_b, k_b, _DIGITS[1]))
    top = 0
    # What the loop reads of each term, looked up once rather than at each of its 257 steps
    # (a memoryview made per step was one more allocation for the collector each time).
    parts = []
    for table, k, buf in terms:
        _wnaf(k, table.width, buf, 0, _TOP + 1)
        span_bits = table.span_bits
        parts.append((buf, span_bits, memoryview(table.data), table.count, table.spans))
        if span_bits + 1 > top:
            top = span_bits + 1
    acc = p256.INFINITY
    p = p256.P
    add = p256.add_affine
    # Doublings owed to acc, made in one run before the next addition (or at the end): most
    # positions have no digit, and a run costs one call rather than one each.
    owed = 0
    for pos in range(top - 1, -1, -1):
        if acc[2]:
            owed += 1
        for buf, span_bits, data, count, spans in parts:
            if pos > span_bits:
                continue
            # Digit 256, above every span, is the last span's at position span_bits.
            for j in range(spans - 1 if pos == span_bits else 0, spans):
                e = buf[j * span_bits + pos]
                if e:
                    o = (j * count + ((e & 0x7F) >> 1)) << 6
                    x = int.from_bytes(data[o : o + 32], "big")
                    y = int.from_bytes(data[o + 32 : o + 64], "big")
                    if e & 0x80:
                        y = p - y
                    if owed:
                        acc = p256.double_n(acc, owed)
                        owed = 0
                    acc = add(acc, x, y)
    if owed:
        acc = p256.double_n(acc, owed)
    return acc
