"""Challenge sealing: authenticated encryption built only on HMAC-SHA256.

The recipient seals its challenge, eC = Seal_K(R1, R2, x, ChallID), with its card-local secret K
and ChallID as the nonce, and opens it when the payment comes back. hashlib.sha256 is native on
every MicroPython port, so this construction (a counter-mode keystream and an encrypt-then-MAC
tag, both HMAC-SHA256 under keys derived from K) runs wherever the card runs.

Specification, version 1 (all lengths in bytes; "u8", "u32" are big-endian unsigned integers;
"||" is concatenation; HMAC is HMAC-SHA256 per RFC 2104):

    Inputs:   K      the 32-byte sealing key
              N      the nonce, 8 to 255 bytes, never used twice under one K
              P      the plaintext, 0 to 2**32 - 1 bytes
              A      the associated data (authenticated, not encrypted), 0 to 2**32 - 1 bytes

    Keys:     Kenc = HMAC(K, "icpurse seal v1 enc")
              Kmac = HMAC(K, "icpurse seal v1 mac")

    Stream:   block(i) = HMAC(Kenc, u8(len(N)) || N || u32(i))   for i = 0, 1, 2, ...
              S = block(0) || block(1) || ... cut to len(P)
              C = P xor S

    Tag:      T = first 16 bytes of
                  HMAC(Kmac, "icpurse seal v1 tag" || u8(len(N)) || N
                                || u32(len(A)) || A || u32(len(C)) || C)

    Blob:     C || T                          (len(P) + 16 bytes; N and A travel separately)

For a challenge, N = ChallID (8 bytes), P = R1 (16) || R2 (16) || u32(x) || ChallID (8), so the
blob is 44 + 16 = 60 bytes.

Opening checks the blob's length, recomputes T over the received C and compares it in constant
time before anything is decrypted; every failure raises SealError with a message that names only
the kind of failure, never a byte of a key, a tag or the plaintext.

Why these choices:
- Separate keys for the stream and the tag, derived under distinct versioned labels, so the two
  uses of HMAC can never be confused and a later version cannot collide with this one.
- Every variable-length field of the MAC input is length-prefixed, so no two (N, A, C) triples
  share a MAC input; the nonce is length-prefixed in the stream input for the same reason.
- The tag is truncated to 16 bytes: forging it takes 2**128 tries on average, the bound of
  AES-GCM and ChaCha20-Poly1305, and truncated HMAC is a PRF as long as the full one is. The
  16 bytes it saves matter in a challenge that has to fit a 250-byte APDU with its TLV framing.
- A reused nonce reveals the xor of the two plaintexts (as in any counter mode); the caller's
  persisted challenge counter is what rules that out, power cuts included.
"""

from purse.compat import const, host_only
from purse.crypto.hmac import HmacKey, equal
from purse.errors import SealError

KEY_SIZE = const(32)
TAG_SIZE = const(16)
MIN_NONCE_SIZE = const(8)
MAX_NONCE_SIZE = const(255)
# The u32 length prefixes bound the plaintext and the associated data.
_MAX_LENGTH = 0xFFFFFFFF

_LABEL_ENC = b"icpurse seal v1 enc"
_LABEL_MAC = b"icpurse seal v1 mac"
_TAG_DOMAIN = b"icpurse seal v1 tag"

_BLOCK = 32


def _u32(value):
    return value.to_bytes(4, "big")


class SealKey:
    """A sealing key K with its stream and MAC keys derived once.

    A card builds one SealKey when it loads K and reuses it for every challenge, which saves
    the two derivations and the key pads of each HMAC key on every seal and open.
    """

    def __init__(self, key):
        if len(key) != KEY_SIZE:
            raise SealError("sealing key must be %d bytes" % KEY_SIZE)
        master = HmacKey(key)
        self._enc = HmacKey(master.mac(_LABEL_ENC))
        self._mac = HmacKey(master.mac(_LABEL_MAC))

    def seal(self, nonce, plaintext, associated_data=b""):
        """Return the blob C || T that seals `plaintext` under this key and `nonce`."""
        _check_nonce(nonce)
        n = len(plaintext)
        if n > _MAX_LENGTH or len(associated_data) > _MAX_LENGTH:
            raise SealError("plaintext or associated data too long")
        # One buffer holds the ciphertext and then the tag: the blob is built in place.
        blob = bytearray(n + TAG_SIZE)
        self._xor_stream(nonce, plaintext, blob, n)
        tag = self._tag(nonce, associated_data, memoryview(blob)[:n])
        blob[n:] = tag[:TAG_SIZE]
        return bytes(blob)

    def open(self, nonce, blob, associated_data=b"", plaintext_length=None):
        """Return the plaintext sealed in `blob`, or raise SealError.

        `plaintext_length`, when given, is the only plaintext length the caller accepts (44 for
        a challenge); a blob of any other length is refused before any MAC is computed.
        """
        _check_nonce(nonce)
        size = len(blob)
        if size < TAG_SIZE:
            raise SealError("sealed blob too short")
        n = size - TAG_SIZE
        if plaintext_length is not None and n != plaintext_length:
            raise SealError("sealed blob has the wrong length")
        if len(associated_data) > _MAX_LENGTH:
            raise SealError("associated data too long")
        view = memoryview(blob)
        ciphertext = view[:n]
        # Encrypt-then-MAC: the tag is checked, in constant time, before a single byte is
        # decrypted, so an altered blob never reaches the keystream.
        expected = self._tag(nonce, associated_data, ciphertext)[:TAG_SIZE]
        if not equal(expected, view[n:]):
            raise SealError("sealed blob does not open")
        plaintext = bytearray(n)
        self._xor_stream(nonce, ciphertext, plaintext, n)
        return bytes(plaintext)

    def _xor_stream(self, nonce, data, out, n):
        # The stream input u8(len(N)) || N || u32(i) is built once; only the counter changes.
        prefix = 1 + len(nonce)
        counter_input = bytearray(prefix + 4)
        counter_input[0] = len(nonce)
        counter_input[1:prefix] = nonce
        offset = 0
        i = 0
        while offset < n:
            counter_input[prefix:] = _u32(i)
            block = self._enc.mac(counter_input)
            end = offset + _BLOCK
            if end > n:
                end = n
            for j in range(offset, end):
                out[j] = data[j] ^ block[j - offset]
            offset = end
            i += 1

    def _tag(self, nonce, associated_data, ciphertext):
        return self._mac.mac(
            _TAG_DOMAIN,
            bytes((len(nonce),)),
            nonce,
            _u32(len(associated_data)),
            associated_data,
            _u32(len(ciphertext)),
            ciphertext,
        )


def _check_nonce(nonce):
    size = len(nonce)
    if size < MIN_NONCE_SIZE or size > MAX_NONCE_SIZE:
        raise SealError("nonce must be %d to %d bytes" % (MIN_NONCE_SIZE, MAX_NONCE_SIZE))


@host_only
def seal(key, nonce, plaintext, associated_data=b""):
    """Seal `plaintext` under the 32-byte `key` and `nonce`; see the module's specification."""
    return SealKey(key).seal(nonce, plaintext, associated_data)


@host_only
def open_sealed(key, nonce, blob, associated_data=b"", plaintext_length=None):
    """Open a blob made by seal(), or raise SealError; see SealKey.open."""
    return SealKey(key).open(nonce, blob, associated_data, plaintext_length)
