"""The pure-Python crypto backend: P-256 ECDSA / SHA-256 that runs on cards and on CPython.

It implements purse.crypto.backend.Backend exactly as that module's docstring states, and two
speed-ups that change no answer, only what one costs:
- Keys a card verifies again and again (PkT, PkI, PkL: its anchors) are declared with `trust`,
  with a precomputed table (`anchor_table`) where the card has the memory: a verification
  against a table costs about 0.4 of one against an unknown key.
- Signatures verified under an anchor are remembered, by the SHA-256 of key, signature and
  message, the last VERIFIED_MAX of them: a repeat payer's CertT and VoucherI, and its stamp
  until it syncs, are then checked by a hash instead of a verification. What a signature
  proves never changes; whether a certificate is still valid at the card's L-time, or its card
  revoked, the card checks on every payment, and a new revocation list clears the memory all
  the same (`forget_verified`).
"""

import hashlib

from purse.crypto import ecdsa, encoding, p256, tables
from purse.crypto.backend import Backend
from purse.errors import InvalidKey

# Signatures under anchors remembered as verified: a payer's CertT and VoucherI and its stamp
# take three, so eight cover two recent payers and the card's own records; 32 bytes each.
VERIFIED_MAX = 8
# Keys met once without a table, remembered so that a second meeting gets them one (_peer):
# twice the peers' tables a fast profile keeps, 33 bytes each (65 for an uncompressed key).
SEEN_MAX = 4


def _scalar(private_key):
    if len(private_key) != 32:
        raise InvalidKey("private key must be 32 bytes")
    d = int.from_bytes(private_key, "big")
    if not 0 < d < ecdsa.N:
        raise InvalidKey("private key is out of range [1, n-1]")
    return d


class PureBackend(Backend):
    """P-256 ECDSA / SHA-256 in pure Python (purse.crypto.ecdsa); SHA-256 from the base class."""

    name = "pure"

    def __init__(self, peer_spans=0, peers=2):
        """`peer_spans` > 0: keep a table of that many spans (512 bytes a span) for each of
        the last `peers` other keys verified twice (a card's regular payers, or recipients in
        the signed mode): making one costs about a sixth more than one verification without,
        and each later verification under that key costs about two thirds."""
        self.peer_spans = peer_spans
        self.peers = peers
        # (encoded key, PublicKey with its table), the most recently used last.
        self._peers = []
        # Encoded keys met without a table, the most recent last (see _peer).
        self._seen = []
        # Encoded public key (as the caller gives it; `precompute` enters both SEC1 forms) ->
        # its PublicKey, or None for a trusted key not decoded yet (decoding takes a square
        # root, 260 field multiplications, which a boot need not spend).
        self._keys = {}
        # Digests of signatures verified under a key of `_keys`, oldest first.
        self._verified = []

    def public_key(self, private_key):
        """The 33-byte compressed SEC1 public key of a 32-byte private key."""
        x, y = ecdsa.public_point(_scalar(private_key))
        return encoding.encode_point(x, y)

    def sign(self, private_key, message, extra_entropy=None):
        """64-byte raw low-s ECDSA P-256 / SHA-256 signature of `message`.

        The nonce is RFC 6979's, mixed with `extra_entropy` as its section 3.6 describes.
        """
        r, s = ecdsa.sign(_scalar(private_key), message, extra_entropy)
        r, s = ecdsa.low_s(r, s)
        return encoding.encode_raw(r, s)

    def verify(self, public_key, message, signature):
        """Return None if `signature` (64-byte raw r||s) is valid, else raise InvalidSignature.

        A malformed or invalid public key raises InvalidKey. Any s in [1, n-1] is accepted.
        """
        public_key = bytes(public_key)
        if public_key not in self._keys:
            r, s = encoding.decode_raw(signature)
            key = self._peer(public_key)
            ecdsa.verify(key, message, r, s)
            if self.peer_spans:
                self._admit(public_key, key)
            return
        # A key the card trusts: a signature verified under it before is known good. The
        # digest covers the key, the signature and the whole message, so only that same
        # signature over that same message finds it.
        h = hashlib.sha256(public_key)
        h.update(signature)
        h.update(message)
        digest = h.digest()
        if digest in self._verified:
            return
        key = self._keys[public_key]
        if key is None:
            key = self._keys[public_key] = ecdsa.PublicKey(*encoding.decode_point(public_key))
        r, s = encoding.decode_raw(signature)
        ecdsa.verify(key, message, r, s)
        self._verified.append(digest)
        if len(self._verified) > VERIFIED_MAX:
            self._verified.pop(0)

    def _peer(self, public_key):
        """The PublicKey of a key that is not trusted: from the recent peers' tables, or
        decoded. If the backend keeps peers, a key met for the second time among the last
        SEEN_MAX it met without a table gets one, which `_admit` keeps once a signature
        verified with it.

        A table costs its first verification about a sixth more than a plain one and pays back
        only if the key comes again, so a key met once (a passing customer, the first payment
        to a shop) is verified plainly and evicts no regular's table; a regular pays for its
        table on its second transfer. The table is made only after the key decoded, so a
        malformed key costs nothing more than before."""
        peers = self._peers
        for i in range(len(peers)):
            if peers[i][0] == public_key:
                entry = peers.pop(i)
                peers.append(entry)
                return entry[1]
        key = ecdsa.PublicKey(*encoding.decode_point(public_key))
        if self.peer_spans and public_key in self._seen:
            key.precompute(self.peer_spans)
        return key

    def _admit(self, public_key, key):
        """After a signature under `public_key` verified with `key` (from _peer): a new table
        joins the peers' in place of the least recently used, a key without one is remembered
        as met. Only keys that signed validly count, so signatures that do not verify can
        neither make a card keep a table nor push a regular's out."""
        peers = self._peers
        if peers and peers[-1][1] is key:
            return  # A table it had: moved up already.
        seen = self._seen
        if key.table is not None:
            if public_key in seen:
                seen.remove(public_key)
            peers.append((public_key, key))
            if len(peers) > self.peers:
                peers.pop(0)
        elif public_key not in seen:
            seen.append(public_key)
            if len(seen) > SEEN_MAX:
                seen.pop(0)

    def trust(self, public_key, table=None):
        """See Backend.trust. `table` is the bytes `anchor_table` made (or read back from a
        card's store, whose CRC refuses a damaged one); it is taken only if its first point is
        the key itself, so a table of another key is never used. The key is not decoded here:
        the table's first point gives it, or the first verification decodes it."""
        public_key = bytes(public_key)
        if table is not None:
            candidate = _table_of(table)
            if candidate is not None:
                x, y = candidate.point(0, 0)
                if _is_point(public_key, x, y):
                    self._keys[public_key] = ecdsa.PublicKey(x, y, candidate)
                    return True
        self._keys[public_key] = None
        return False

    def anchor_table(self, public_key, spans):
        """See Backend.anchor_table: a comb-shaped table of `spans` spans (16: 8 KiB)."""
        x, y = encoding.decode_point(public_key)
        return tables.build(x, y, spans, tables.KEY_WIDTH).data

    def forget_verified(self):
        self._verified = []

    def precompute(self, public_key, spans=16):
        """Keep a precomputed table for a key verified again and again; returns its size.

        The default 16 spans take 8 KiB per key; 8 spans take 4 KiB and a few more operations.
        """
        x, y = encoding.decode_point(public_key)
        key = ecdsa.PublicKey(x, y).precompute(spans)
        self._keys[encoding.encode_point(x, y, True)] = key
        self._keys[encoding.encode_point(x, y, False)] = key
        return key.table.nbytes()

    def forget(self, public_key):
        """Drop the table of a key (after a key rollover), freeing its memory."""
        x, y = encoding.decode_point(public_key)
        self._keys.pop(encoding.encode_point(x, y, True), None)
        self._keys.pop(encoding.encode_point(x, y, False), None)


def _is_point(encoded, x, y):
    """Whether (x, y) is the P-256 point the SEC1 bytes `encoded` name: on the curve, and
    encoded the same way (for a compressed key: the same x and the same parity of y, which
    leaves one point)."""
    if x >= p256.P or y >= p256.P or not p256.on_curve(x, y):
        return False
    return encoding.encode_point(x, y, len(encoded) == 33) == encoded


def _table_of(data):
    """A tables.Table of the anchors' shape over `data`, or None if its length fits none."""
    per_span = 64 << (tables.KEY_WIDTH - 2)
    spans = len(data) // per_span
    if spans not in (1, 2, 4, 8, 16) or spans * per_span != len(data):
        return None
    return tables.Table(data, spans, tables.KEY_WIDTH)
