"""Strict BER-TLV (ISO/IEC 7816-4 section 5.2, ISO/IEC 8825-1) for the protocol's records.

A tag is handled as the integer its bytes spell big-endian (0x84, 0x5F20, 0x7F2101), as EMV and
ISO 7816 print them. The decoder accepts exactly one encoding of each value, so that the bytes a
signature covers are canonical:
- tags of one to three bytes, in the shortest form; the universal class is refused (the
  protocol never uses it, and 0x00 padding between objects is refused with it);
- lengths in the shortest definite form, at most 0x82 XX XX; the indefinite form is refused;
- a value may not run past its buffer, and nothing may follow the last object;
- decode_fields() also refuses unknown tags, tags out of the schema's order, duplicates and
  missing mandatory fields, and fields of the wrong length.
Every failure raises TLVError and nothing else.
"""

from purse import proto
from purse.compat import const, host_only
from purse.errors import RecordError, TLVError

MAX_LENGTH = const(0xFFFF)  # 0x82 XX XX is the longest length form accepted.

# Bits of a tag's first byte.
CLASS_MASK = const(0xC0)
CLASS_UNIVERSAL = const(0x00)
CLASS_APPLICATION = const(0x40)
CLASS_CONTEXT = const(0x80)
CLASS_PRIVATE = const(0xC0)
CONSTRUCTED = const(0x20)


def _tag_bytes(tag):
    """The bytes of `tag`, which must be a tag the decoder accepts (_read_tag).

    The decoder's rules, checked on the integer (a record encodes a dozen tags, so this runs
    often, on cards too): the first byte is not universal-class; a one-byte tag does not
    announce more bytes (low five bits 11111); a second byte is 0x1F..0x7F, or 0x81..0xFF when
    a third byte 0x00..0x7F follows. tests/host/test_codec_properties.py checks that this and
    the decoder agree on every tag.
    """
    if 0x40 <= tag <= 0xFF:
        if tag & 0x1F != 0x1F:
            return bytes((tag,))
    elif 0x4000 <= tag <= 0xFFFF:
        if (tag >> 8) & 0x1F == 0x1F and 0x1F <= tag & 0xFF <= 0x7F:
            return bytes((tag >> 8, tag & 0xFF))
    elif 0x400000 <= tag <= 0xFFFFFF:
        if (tag >> 16) & 0x1F == 0x1F and (tag >> 8) & 0xFF >= 0x81 and tag & 0xFF <= 0x7F:
            return bytes((tag >> 16, (tag >> 8) & 0xFF, tag & 0xFF))
    if tag < 0 or tag > 0xFFFFFF:
        raise TLVError("tag 0x%X out of range" % tag)
    raise TLVError("0x%X is not a valid BER-TLV tag" % tag)


@host_only
def first_byte(tag):
    """The first byte of a tag's encoding, which holds its class and constructed bit."""
    while tag > 0xFF:
        tag >>= 8
    return tag


@host_only
def is_constructed(tag):
    return bool(first_byte(tag) & CONSTRUCTED)


@host_only
def tag_class(tag):
    return first_byte(tag) & CLASS_MASK


def _length_bytes(length):
    if length < 0 or length > MAX_LENGTH:
        raise TLVError("length %d out of range" % length)
    if length < 0x80:
        return bytes((length,))
    if length <= 0xFF:
        return bytes((0x81, length))
    return bytes((0x82, length >> 8, length & 0xFF))


def encoded_size(tag, value_length):
    """Bytes that encode(tag, value) takes for a value of `value_length` bytes."""
    return len(_tag_bytes(tag)) + len(_length_bytes(value_length)) + value_length


def write(buf, pos, tag, value, length=None):
    """Write encode(tag, value) into the bytearray `buf` at `pos`; return the end. Only the
    few header bytes are allocated: a commit late in a command, when a small heap is most
    fragmented, needs no large block (purse.store.Store). With `value` None, only the header
    of a value of `length` bytes, which the caller writes after it."""
    head = _tag_bytes(tag) + _length_bytes(len(value) if value is not None else length)
    end = pos + len(head)
    buf[pos:end] = head
    if value is None:
        return end
    pos = end + len(value)
    buf[end:pos] = value
    return pos


def encode(tag, value):
    """One TLV as bytes."""
    return _tag_bytes(tag) + _length_bytes(len(value)) + bytes(value)


def encode_all(items, outer=None):
    """The concatenation of encode(tag, value) for each (tag, value), joined once. With
    `outer`, wrapped in one TLV of that tag by the same join: encode(outer, encode_all(items))
    would hold two copies of a large record at once, and a card's heap is small."""
    parts = [b""]
    size = 0
    for tag, value in items:
        head = _tag_bytes(tag) + _length_bytes(len(value))
        # MicroPython's bytes.join takes bytes only (not bytearray or memoryview).
        value = value if type(value) is bytes else bytes(value)
        parts.append(head)
        parts.append(value)
        size += len(head) + len(value)
    if outer is not None:
        parts[0] = _tag_bytes(outer) + _length_bytes(size)
    return b"".join(parts)


def u32(value):
    """The u32 field of `value` (x, a balance, a counter, L-time, a count): the one encoding
    of a u32 that the core and the host use. A value it cannot hold raises RecordError."""
    if value < 0 or value > 0xFFFFFFFF:
        raise RecordError("%d does not fit an unsigned 32-bit field" % value)
    return value.to_bytes(proto.U32_SIZE, "big")


def u64(value):
    """The u64 field of `value` (w, a leaf index, a tree size); RecordError if it cannot."""
    if value < 0 or value > 0xFFFFFFFFFFFFFFFF:
        raise RecordError("%d does not fit an unsigned 64-bit field" % value)
    return value.to_bytes(proto.U64_SIZE, "big")


def uint(data):
    """The unsigned big-endian integer of a fixed-width field: u32's and u64's inverse."""
    return int.from_bytes(bytes(data), "big")


def _read_tag(data, pos, end):
    if pos >= end:
        raise TLVError("truncated: tag expected at offset %d" % pos)
    b = data[pos]
    if b & CLASS_MASK == CLASS_UNIVERSAL:
        raise TLVError("universal-class tag 0x%02X at offset %d" % (b, pos))
    tag = b
    pos += 1
    if b & 0x1F != 0x1F:
        return tag, pos
    # Subsequent tag bytes: bit 8 says another follows; the shortest form is required.
    count = 0
    while True:
        if pos >= end:
            raise TLVError("truncated multi-byte tag at offset %d" % pos)
        b = data[pos]
        if count == 0 and (b == 0x80 or b < 0x1F):
            raise TLVError("non-minimal tag encoding at offset %d" % pos)
        tag = (tag << 8) | b
        pos += 1
        count += 1
        if not b & 0x80:
            return tag, pos
        if count == 2:
            raise TLVError("tag longer than three bytes at offset %d" % pos)


def _read_length(data, pos, end):
    if pos >= end:
        raise TLVError("truncated: length expected at offset %d" % pos)
    b = data[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    if b == 0x80:
        raise TLVError("indefinite length at offset %d" % (pos - 1))
    if b == 0x81:
        if pos >= end:
            raise TLVError("truncated length at offset %d" % pos)
        n = data[pos]
        if n < 0x80:
            raise TLVError("non-minimal length at offset %d" % (pos - 1))
        return n, pos + 1
    if b == 0x82:
        if pos + 2 > end:
            raise TLVError("truncated length at offset %d" % pos)
        n = (data[pos] << 8) | data[pos + 1]
        if n < 0x100:
            raise TLVError("non-minimal length at offset %d" % (pos - 1))
        return n, pos + 2
    raise TLVError("length form 0x%02X not supported at offset %d" % (b, pos - 1))


def read(data, pos=0, end=None):
    """Read the TLV at `pos`: return (tag, value, next position); value is a memoryview."""
    if end is None:
        end = len(data)
    if not isinstance(data, memoryview):
        data = memoryview(data)
    # Most fields have a one-byte tag and a short length: read those here, exactly as
    # _read_tag and _read_length would; anything else, and every error, goes through them.
    if pos + 1 < end:
        tag = data[pos]
        length = data[pos + 1]
        if tag >= 0x40 and tag & 0x1F != 0x1F and length < 0x80:
            pos += 2
            if length > end - pos:
                raise TLVError(
                    "value of tag 0x%X runs %d bytes past the end" % (tag, pos + length - end)
                )
            return tag, data[pos : pos + length], pos + length
    tag, pos = _read_tag(data, pos, end)
    length, pos = _read_length(data, pos, end)
    if length > end - pos:
        raise TLVError("value of tag 0x%X runs %d bytes past the end" % (tag, pos + length - end))
    return tag, data[pos : pos + length], pos + length


def decode_all(data):
    """Every top-level TLV of `data` as a list of (tag, memoryview value)."""
    mv = memoryview(data)
    items = []
    pos = 0
    end = len(mv)
    while pos < end:
        tag, value, pos = read(mv, pos, end)
        items.append((tag, value))
    return items


def decode_one(data, expected_tag=None):
    """The single TLV that makes up all of `data`; its value as a memoryview.

    With `expected_tag`, any other tag is refused. Trailing bytes are refused.
    """
    mv = memoryview(data)
    tag, value, pos = read(mv, 0, len(mv))
    if pos != len(mv):
        raise TLVError("%d trailing bytes after tag 0x%X" % (len(mv) - pos, tag))
    if expected_tag is not None and tag != expected_tag:
        raise TLVError("tag 0x%X where 0x%X was expected" % (tag, expected_tag))
    return tag, value


# Field flags for decode_fields schemas.
OPTIONAL = const(1)
REPEATED = const(2)


def decode_fields(data, schema):
    """Decode the fields of a constructed value against a schema; return {tag: value}.

    `schema` is a sequence of (tag, min_length, max_length, flags) in the canonical order; a
    REPEATED field maps to a list of values (at least one unless it is also OPTIONAL). Unknown,
    misordered, duplicate, missing or wrong-sized fields raise TLVError.
    """
    mv = memoryview(data)
    end = len(mv)
    pos = 0
    out = {}
    index = 0
    count = len(schema)
    while pos < end:
        tag, value, pos = read(mv, pos, end)
        if tag in out and not isinstance(out[tag], list):
            raise TLVError("duplicate field 0x%X" % tag)
        while index < count and schema[index][0] != tag:
            field_tag, _, _, flags = schema[index]
            if not flags & OPTIONAL and field_tag not in out:
                raise TLVError("missing field 0x%X before 0x%X" % (field_tag, tag))
            index += 1
        if index == count:
            for field in schema:
                if field[0] == tag:
                    raise TLVError("misordered field 0x%X" % tag)
            raise TLVError("unexpected field 0x%X" % tag)
        field_tag, min_len, max_len, flags = schema[index]
        if len(value) < min_len or len(value) > max_len:
            raise TLVError(
                "field 0x%X has %d bytes, not %d to %d" % (tag, len(value), min_len, max_len)
            )
        if flags & REPEATED:
            out.setdefault(tag, []).append(value)
        else:
            out[tag] = value
            index += 1
    while index < count:
        field_tag, _, _, flags = schema[index]
        if not flags & OPTIONAL and field_tag not in out:
            raise TLVError("missing field 0x%X" % field_tag)
        index += 1
    return out
