"""The reader's side of ISO/IEC 7816-4 (purse.apdu holds the card's): build command APDUs,
split long commands into chains, parse responses and collect 61XX + GET RESPONSE chains.

A terminal uses it over the serial link, and so does a board that reads another card over NFC;
a card that only answers never imports it, which keeps this code out of its heap.
"""

from purse import proto
from purse.apdu import HEADER
from purse.errors import APDUError

# Largest data field of one command part: 250 - header - Lc, and one byte less when Le follows.
MAX_PART_DATA = proto.MAX_COMMAND_APDU - HEADER - 1

# Bound on a whole chained response, so a confused card cannot keep a host reading forever.
MAX_CHAINED_RESPONSE = 8192


def build_command(cla, ins, p1, p2, data=b"", le=None):
    """Encode one short command APDU; refuses anything over 250 bytes."""
    for name, value in (("CLA", cla), ("INS", ins), ("P1", p1), ("P2", p2)):
        if value < 0 or value > 0xFF:
            raise APDUError("%s 0x%X is not a byte" % (name, value))
    n = len(data)
    if n > 255:
        raise APDUError("data of %d bytes does not fit a short APDU" % n)
    if le is not None and (le < 1 or le > 256):
        raise APDUError("Le %d outside 1..256" % le)
    size = HEADER + (1 + n if n else 0) + (1 if le is not None else 0)
    if size > proto.MAX_COMMAND_APDU:
        raise APDUError("command APDU of %d bytes exceeds %d" % (size, proto.MAX_COMMAND_APDU))
    out = bytearray(size)
    out[0] = cla
    out[1] = ins
    out[2] = p1
    out[3] = p2
    pos = HEADER
    if n:
        out[pos] = n
        out[pos + 1 : pos + 1 + n] = data
        pos += 1 + n
    if le is not None:
        out[pos] = le & 0xFF
    return bytes(out)


def chain_command(cla, ins, p1, p2, data=b"", le=None):
    """Encode a command as one APDU, or as a chain of them when its data does not fit one.

    Every part but the last has the chaining bit set in CLA and no Le; each is at most 250 bytes.
    """
    last_room = MAX_PART_DATA - (1 if le is not None else 0)
    if len(data) <= last_room:
        return [build_command(cla, ins, p1, p2, data, le)]
    parts = []
    pos = 0
    # The final part takes what remains after full-size parts; it must hold at least one byte.
    while len(data) - pos > last_room:
        take = MAX_PART_DATA
        if len(data) - pos - take < 1:
            take = len(data) - pos - 1
        parts.append(build_command(cla | proto.CLA_CHAIN, ins, p1, p2, data[pos : pos + take]))
        pos += take
    parts.append(build_command(cla, ins, p1, p2, data[pos:], le))
    return parts


def parse_response(resp):
    """Split a response APDU into (data, status word)."""
    if len(resp) < 2:
        raise APDUError("response of %d bytes has no status word" % len(resp))
    if len(resp) > proto.MAX_RESPONSE_APDU:
        raise APDUError("response of %d bytes exceeds %d" % (len(resp), proto.MAX_RESPONSE_APDU))
    return bytes(resp[:-2]), (resp[-2] << 8) | resp[-1]


def transceive(exchange, cla, ins, p1, p2, data=b"", le=None):
    """Host side: send a command, chaining it if needed, and collect a chained response.

    `exchange(apdu_bytes) -> response_bytes` carries one APDU over whatever link. Returns
    (data, status word) of the whole response. An intermediate chain part answered with anything
    but 9000 ends the exchange with that status word.
    """
    parts = chain_command(cla, ins, p1, p2, data, le)
    for part in parts[:-1]:
        body, sw = parse_response(exchange(part))
        if sw != proto.SW_OK:
            return body, sw
    body, sw = parse_response(exchange(parts[-1]))
    collected = bytearray(body)
    while sw >> 8 == proto.SW_MORE_DATA >> 8:
        if len(collected) > MAX_CHAINED_RESPONSE:
            raise APDUError("chained response longer than %d bytes" % MAX_CHAINED_RESPONSE)
        get = build_command(proto.CLA_ISO, proto.INS_GET_RESPONSE, 0, 0, b"", (sw & 0xFF) or 256)
        body, sw = parse_response(exchange(get))
        collected.extend(body)
    return bytes(collected), sw
