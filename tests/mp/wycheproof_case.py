"""One Wycheproof ECDSA case against a backend; shared by CPython and MicroPython.

`check` returns "valid" when the signature verifies and "invalid" when the documented error
(InvalidSignature for the signature, InvalidKey for the key) rejects it; any other exception
propagates, so the caller reports it as a crash.
"""

from purse.crypto import der, encoding
from purse.errors import InvalidKey, InvalidSignature


def check(backend, kind, public_key, message, signature):
    """kind is "D" for a DER signature (decoded strictly first) or "R" for raw r||s."""
    try:
        if kind == "D":
            r, s = der.decode_der(signature)
            signature = encoding.encode_raw(r, s)
        backend.verify(public_key, message, signature)
    except (InvalidSignature, InvalidKey):
        return "invalid"
    return "valid"


def backends():
    """The pure backend's paths, by name: as it verifies an unknown key; the same with the lean
    tables; with tables of the recent peers' keys (the signed mode's recipients, a card's
    payers); and with every key trusted as an anchor with its table, where signatures are
    remembered once verified."""
    from purse.crypto import tables
    from purse.crypto.pure import PureBackend

    class Anchors(PureBackend):
        """Trusts each valid key it is asked about, with a 4-span table, before verifying; the
        key before it is forgotten, as a card holds three anchors, not hundreds (their 2 KiB
        tables would fill the test's heap)."""

        def verify(self, public_key, message, signature):
            public_key = bytes(public_key)
            if public_key not in self._keys:
                self._keys.clear()
                try:
                    table = self.anchor_table(public_key, 4)
                except InvalidKey:
                    table = None
                if table is not None and not self.trust(public_key, table):
                    raise AssertionError("the table of a valid key was not taken")
            PureBackend.verify(self, public_key, message, signature)

    class Lean(PureBackend):
        """The classic ESP32's lean tables (purse.crypto.tables.lean): the lean w-NAF table of
        the generator and width-4 tables of unknown keys. Lean mode, once on, stays on for the
        process, as on a board; test_wycheproof turns it off after this backend's run."""

        def verify(self, public_key, message, signature):
            tables.lean(True)
            PureBackend.verify(self, public_key, message, signature)

    return {
        "pure": PureBackend(),
        "pure-lean": Lean(),
        "pure-peers": PureBackend(peer_spans=2),
        "pure-anchors": Anchors(),
    }
