"""Precomputed tables of affine points: the generator's two tables and per-key tables.

A table holds, for each of `spans` offsets j, the odd multiples 1, 3, ..., 2^(width-1) - 1 of
2^(j * span_bits) * P, as affine points packed into one bytearray (32-byte big-endian x then y,
64 bytes a point; a bytes object mapped from flash for the generator's tables in a ROMFS image,
see generator_comb). Packed bytes take half the memory of a list of integers and never grow, so
they do not fragment a small heap.

A scalar is split into `spans` parts of `span_bits` bits; each part needs only `span_bits`
doublings, shared by all the parts and by every other table used in the same sum. So:
- the generator's comb, 16 spans of 16 bits with the multiples up to 15 (8 KiB), serves the
  signer (64 signed odd digits, 12 doublings) and verification against a precomputed key;
- the generator's w-NAF table, one span with the multiples up to 63 (2 KiB), serves
  verification against an unknown key, where the 256 doublings of the key's part are paid
  anyway and only the number of additions counts (the multiples up to 127 would save 1.5%
  of its field multiplications for 2 KiB more of a card's heap, which a classic ESP32,
  trading near its heap bar of docs/DESIGN.md section 11, cannot spare);
- a per-key table for a key a card verifies again and again (PkT, PkI, PkL) has the comb's
  shape (8 KiB by default; fewer spans take less memory and cost more doublings).

The generator's tables are made at build time, not at boot: tools/gen_tables.py (`make gen`)
runs build() on CPython and writes their bytes into the module purse.crypto.gtables, which a
card imports on first use, as it imports any module, and copies into one bytearray a table, as
build() would have made them; from a ROMFS image, whose bytes stay in flash outside the heap,
it uses them where they are. Building them took an estimated 1.4-2.3 s of every boot on the
boards. Their bytes are used only when they hash to _GENERATED_SHA256; a missing or damaged
module makes the generator's tables be built here, as they were before (docs/HARDWARE.md, "The
generator's tables"). Either way they are made on first use and kept for the life of the
program.
"""

import hashlib
import sys

from purse.crypto import p256

COMB_SPANS = 16
COMB_WIDTH = 5
WNAF_G_WIDTH = 7
KEY_WIDTH = 5
# The lean shapes (lean()), for a board whose heap is the tightest constraint, held for the
# life of the program: the generator's comb with every other span (8 spans of 32 bits, which
# are spans 0, 2, ..., 14 of the full comb: 4 KiB, not 8), which costs each signature 16 more
# doublings; the generator's w-NAF table cut to its first 8 points (odd multiples up to 15: 512
# bytes, not 2 KiB); and an unknown key's own table of 4 points (1, 3, 5, 7), whose Jacobian
# multiples, while it is built, are the peak of ACCEPT's heap. The last two cost verification
# against an unknown key a few more additions (docs/HARDWARE.md, "Board profiles").
LEAN_COMB_SPANS = 8
LEAN_WNAF_G_WIDTH = 5
LEAN_KEY_WIDTH = 4


class Table:
    """Odd multiples of a point at `spans` offsets; see the module docstring for the layout."""

    def __init__(self, data, spans, width):
        self.data = data
        self.spans = spans
        self.width = width
        self.count = 1 << (width - 2)
        self.span_bits = 256 // spans

    def point(self, span, index):
        """The affine point (2 * index + 1) * 2^(span * span_bits) * P as (x, y)."""
        o = (span * self.count + index) << 6
        mv = memoryview(self.data)
        return int.from_bytes(mv[o : o + 32], "big"), int.from_bytes(mv[o + 32 : o + 64], "big")

    def nbytes(self):
        return len(self.data)


def _write_odd_multiples(data, o, x, y, count):
    """Write the affine x*P for the odd factors 1, 3, ..., 2*count - 1 of P = (x, y) at o.

    The multiples are made in Jacobian coordinates and converted in batches of 8 with one
    inversion each, so building a large table never holds more than 8 Jacobian points.

    2P is not made affine, which would take an inversion of its own (as much as about 36 field
    multiplications). With 2P = (X2, Y2, Z2), the map (x, y) -> (x * Z2^2, y * Z2^3) takes the
    curve to an isomorphic one (a changes, b too, and neither appears in an addition) on which
    2P is the affine (X2, Y2). The odd multiples are summed there, and a Jacobian (X, Y, Z)
    found there is (X, Y, Z * Z2) on P-256: 4 + count - 1 multiplications in all. None of the
    sums meets an exceptional case of add_affine (whose doubling would be P-256's): (2i + 1)P
    is neither 2P nor -2P for a point of order n.
    """
    data[o : o + 32] = x.to_bytes(32, "big")
    data[o + 32 : o + 64] = y.to_bytes(32, "big")
    if count == 1:
        return
    x2, y2, z2 = p256.double((x, y, 1))
    zz = p256.fmul(z2, z2)
    cur = (p256.fmul(x, zz), p256.fmul(y, p256.fmul(zz, z2)), 1)
    done = 1
    while done < count:
        batch = min(8, count - done)
        jac = [None] * batch
        for i in range(batch):
            cur = p256.add_affine(cur, x2, y2)
            jac[i] = (cur[0], cur[1], p256.fmul(cur[2], z2))
        for px, py in p256.batch_affine(jac):
            o += 64
            data[o : o + 32] = px.to_bytes(32, "big")
            data[o + 32 : o + 64] = py.to_bytes(32, "big")
        jac = None
        done += batch


def build(x, y, spans=COMB_SPANS, width=KEY_WIDTH):
    """A Table for the affine point (x, y), which the caller has validated.

    `spans` must divide 256 and be at most 16 (16 spans of width 5 take 8 KiB already), and
    `width` lie in [2, 8], so that a digit fits in 7 bits.
    """
    if 256 % spans or spans > 16 or not 2 <= width <= 8:
        raise ValueError("unsupported table shape")
    table = Table(bytearray(spans * (64 << (width - 2))), spans, width)
    data = table.data
    o = 0
    for j in range(spans):
        if j:
            x, y = p256.to_affine(p256.double_n((x, y, 1), table.span_bits))
        _write_odd_multiples(data, o, x, y, table.count)
        o += table.count << 6
    return table


# SHA-256 of the generator's tables' shapes and bytes, as build() makes them (the four bytes
# COMB_SPANS, COMB_WIDTH, WNAF_G_WIDTH and the w-NAF table's number of points, then the comb's
# bytes and the w-NAF table's: see generator_comb); written by tools/gen_tables.py together with
# purse.crypto.gtables, and `make gen-check` (part of `make lint`) fails when either is stale.
# Generated bytes that do not hash to it are never used: a damaged file, one left on a board by
# another version of the firmware, or one of another shape (a shape changed here without `make
# gen` changes the hash the card computes).
_GENERATED_SHA256 = (
    b"\x00\xcb\x8b\xb0\xec\x34\x62\x3f\x1c\xdb\xda\x23\x7b\xb3\xc8\xea"
    b"\x60\xa2\x91\x56\x4c\xbe\xb0\xdc\x7c\xc5\x8c\x49\xc6\x97\x48\xee"
)
_comb = None
_wnaf_g = None
_lean = False


def lean(on=True):
    """Use the lean shapes (see LEAN_WNAF_G_WIDTH) from now on, or stop using them. A board
    whose profile says `"lean_tables": true` calls it at boot, before the generator's tables
    are loaded, so they are loaded in that shape; switching later drops them, to be loaded
    again in the new shape on first use."""
    global _lean, _comb, _wnaf_g
    on = bool(on)
    if on != _lean:
        _lean = on
        _comb = _wnaf_g = None


def unknown_key_width():
    """The width of the table a verification builds for a key it has no table of."""
    return LEAN_KEY_WIDTH if _lean else KEY_WIDTH


def generator_comb():
    """The generator's comb table (16 spans of 16 bits, odd multiples up to 15).

    The first call sets both generator tables from purse.crypto.gtables when its bytes hash to
    _GENERATED_SHA256, and builds them here otherwise. Any exception on the way means a missing
    or damaged module (ImportError when it is absent, SyntaxError for damaged source, ValueError
    for an .mpy file MicroPython cannot load, AttributeError or TypeError for a module without
    the two bytes objects), and the tables are built. The module is dropped again once read.
    It is all one function because each function of a module a card has loaded keeps its code
    in the card's heap."""
    global _comb, _wnaf_g
    if _wnaf_g is None:
        try:
            gen = __import__("purse.crypto.gtables", None, None, ("COMB",))
            comb, wnaf = gen.COMB, gen.WNAF
            # The shapes, and the w-NAF table's number of points, which fixes where the comb's
            # bytes end: the hash is over the two tables one after the other.
            h = hashlib.sha256(bytes((COMB_SPANS, COMB_WIDTH, WNAF_G_WIDTH, len(wnaf) >> 6)))
            h.update(comb)
            h.update(wnaf)
            if h.digest() != _GENERATED_SHA256:
                comb = wnaf = None
            elif not getattr(gen, "__file__", "").startswith("/rom/"):
                # Copied into one bytearray a table, and the module's bytes objects dropped,
                # so the heap holds what it held when the tables were built here: used as they
                # are, the bytes objects (a byte longer each, amid the module's allocations) made
                # the classic ESP32's heap test fail at its 164K (docs/HARDWARE.md). Only what
                # the lean shapes read is copied, never the whole tables first. Imported from a
                # ROMFS image they are mapped from flash, outside the heap: used there, whole.
                if _lean:
                    wnaf = bytearray(memoryview(wnaf)[: 64 << (LEAN_WNAF_G_WIDTH - 2)])
                    comb = _lean_comb(comb)
                else:
                    comb, wnaf = bytearray(comb), bytearray(wnaf)
        except Exception:  # noqa: BLE001 - see the docstring: any failure means "build".
            comb = wnaf = None
        gen = None
        if sys.modules.pop("purse.crypto.gtables", None) is not None:
            try:
                delattr(sys.modules["purse.crypto"], "gtables")
            except (AttributeError, KeyError):
                pass
        if comb is None:
            comb = build(p256.GX, p256.GY, LEAN_COMB_SPANS if _lean else COMB_SPANS, COMB_WIDTH)
            comb = comb.data
            wnaf = build(p256.GX, p256.GY, 1, LEAN_WNAF_G_WIDTH if _lean else WNAF_G_WIDTH).data
        # The shapes follow the bytes: a ROMFS image's whole tables serve a lean board too.
        _comb = Table(comb, COMB_SPANS if len(comb) == 1 << 13 else LEAN_COMB_SPANS, COMB_WIDTH)
        _wnaf_g = Table(wnaf, 1, WNAF_G_WIDTH if len(wnaf) == 1 << 11 else LEAN_WNAF_G_WIDTH)
    return _comb


def _lean_comb(comb):
    """The lean comb's bytes: spans 0, 2, ..., 14 of the full comb's (see LEAN_COMB_SPANS)."""
    per_span = 64 << (COMB_WIDTH - 2)
    out = bytearray(LEAN_COMB_SPANS * per_span)
    step = COMB_SPANS // LEAN_COMB_SPANS
    mv = memoryview(comb)
    for j in range(LEAN_COMB_SPANS):
        o = j * step * per_span
        out[j * per_span : (j + 1) * per_span] = mv[o : o + per_span]
    return out


def generator_wnaf():
    """The generator's w-NAF table (one span, odd multiples up to 63, or up to 15 in the lean
    shape); see generator_comb."""
    if _wnaf_g is None:
        generator_comb()
    return _wnaf_g
