"""What the logger answers from what it stored: checkpoints, proofs, card histories and
reconstructed balances, alerts; and the feeds it takes from the issuer (vouchers) and the CA
(revocation lists). LoggerService inherits these views; they need `storage`, `signer`,
`backend`, `ca_key`, `issuer_key` and `ltime()` from it."""

from icpurse.logger import merkle
from purse.errors import CryptoError, RecordError
from purse.records import fields as f
from purse.records.checkpoint import Checkpoint
from purse.records.credentials import RevocationList, Voucher


class SubmitError(Exception):
    """A record refused before or while sequencing; `status` is the HTTP status to answer."""

    def __init__(self, status, reason, conflicts_with=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.conflicts_with = conflicts_with


class LedgerViews:
    # --- reading ------------------------------------------------------------------------------

    def tree_size(self):
        return self.storage.tree_size()

    def checkpoint(self):
        """The signed checkpoint of the current tree (made and stored if the tree grew)."""
        size = self.storage.tree_size()
        row = self.storage.one("SELECT record FROM checkpoints WHERE tree_size = ?", (size,))
        if row is not None:
            return bytes(row[0])
        root = merkle.root(size, self.storage.node_getter())
        record = Checkpoint(size, root, self.ltime()).sign(self.signer).encode()
        self.storage.write(
            [("INSERT INTO checkpoints (tree_size, root, record) VALUES (?, ?, ?)"
              " ON CONFLICT (tree_size) DO NOTHING", (size, root, record))]
        )  # fmt: skip
        return record

    def leaf(self, index):
        row = self.storage.one("SELECT record, receipt FROM leaves WHERE leaf_index = ?", (index,))
        if row is None:
            raise KeyError(index)
        return bytes(row[0]), bytes(row[1])

    def inclusion(self, index, size):
        return merkle.inclusion_proof(index, size, self.storage.node_getter())

    def consistency(self, old, new):
        return merkle.consistency_proof(old, new, self.storage.node_getter())

    def known_card(self, card_id):
        return (
            self.storage.one("SELECT 1 FROM vouchers WHERE card_id = ?", (bytes(card_id),))
            is not None
        )

    def card(self, card_id):
        """History and reconstructed balance: issued (vouchers) + received - paid."""
        card_id = bytes(card_id)
        issued = self.storage.one(
            "SELECT COALESCE(MAX(issued), 0) FROM vouchers WHERE card_id = ?", (card_id,)
        )[0]
        received = self.storage.one(
            "SELECT COALESCE(SUM(amount), 0) FROM leaves WHERE recipient_id = ?", (card_id,)
        )[0]
        paid = self.storage.one(
            "SELECT COALESCE(SUM(amount), 0) FROM leaves WHERE payer_id = ?", (card_id,)
        )[0]
        history = self.storage.all(
            "SELECT leaf_index, payer_id, recipient_id, amount, counter, ltime FROM leaves"
            " WHERE payer_id = ? OR recipient_id = ? ORDER BY leaf_index",
            (card_id, card_id),
        )
        return {
            "card_id": card_id.hex(),
            "known": self.known_card(card_id),
            "issued": int(issued),
            "received": int(received),
            "paid": int(paid),
            "balance": int(issued) + int(received) - int(paid),
            "revoked": self.is_revoked(card_id),
            "history": [
                {
                    "leaf_index": int(r[0]),
                    "direction": "paid" if bytes(r[1]) == card_id else "received",
                    "counterpart": bytes(r[2] if bytes(r[1]) == card_id else r[1]).hex(),
                    "amount": int(r[3]),
                    "payer_counter": int(r[4]),
                    "ltime": int(r[5]),
                }
                for r in history
            ],
        }

    def alerts(self):
        """Overspending payers and cryptographic proofs of clones (reused payer counters)."""
        overspend = []
        for (payer_id,) in self.storage.all("SELECT DISTINCT payer_id FROM leaves"):
            card = self.card(bytes(payer_id))
            if card["paid"] > card["issued"] + card["received"]:
                overspend.append(
                    {key: card[key] for key in ("card_id", "issued", "received", "paid")}
                )
        evidence = self.storage.all(
            "SELECT kind, payer_id, record, conflicts_with, ltime FROM evidence ORDER BY id"
        )
        return {
            "overspend": overspend,
            "evidence": [
                {
                    "kind": r[0],
                    "payer_id": bytes(r[1]).hex(),
                    "record": bytes(r[2]).hex(),
                    "conflicts_with": int(r[3]),
                    "ltime": int(r[4]),
                }
                for r in evidence
            ],
        }

    # --- feeds from the issuer and the CA -----------------------------------------------------

    def _checked(self, cls, data, key, what):
        """A record of `cls` parsed and verified with `key`: 400 if malformed, 422 if not
        signed by that key."""
        try:
            record = cls.decode(data)
            record.verify(self.backend, key)
        except RecordError as exc:
            raise SubmitError(400, "malformed %s: %s" % (what, exc)) from None
        except CryptoError as exc:
            raise SubmitError(422, "%s does not verify: %s" % (what, exc)) from None
        return record

    def add_voucher(self, data):
        """The issuer feed: every voucher the issuer signs, so balances add up from its side."""
        voucher = self._checked(Voucher, data, self.issuer_key, "voucher")
        card_id = f.card_id(voucher.public_key)
        row = self.storage.one(
            "SELECT record FROM vouchers WHERE card_id = ? AND sequence = ?",
            (card_id, voucher.sequence),
        )
        if row is not None:
            if bytes(row[0]) != voucher.encode():
                raise SubmitError(409, "another voucher with this sequence is recorded")
            return card_id
        self.storage.write(
            [("INSERT INTO vouchers VALUES (?, ?, ?, ?, ?)",
              (card_id, voucher.sequence, voucher.issued, voucher.public_key, voucher.encode()))]
        )  # fmt: skip
        return card_id

    def set_revocation(self, data):
        """Store a newer CA-signed revocation list, which the logger then serves to terminals."""
        rl = self._checked(RevocationList, data, self.ca_key, "revocation list")
        current = self.revocation()
        if current is not None and RevocationList.decode(current).sequence >= rl.sequence:
            raise SubmitError(409, "a revocation list as new or newer is already served")
        self.storage.write([("INSERT INTO revocations VALUES (?, ?)", (rl.sequence, rl.encode()))])
        return rl

    def revocation(self):
        row = self.storage.one("SELECT record FROM revocations ORDER BY sequence DESC LIMIT 1")
        return None if row is None else bytes(row[0])

    def is_revoked(self, card_id):
        current = self.revocation()
        return current is not None and RevocationList.decode(current).is_revoked(card_id)
