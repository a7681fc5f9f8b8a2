"""What the logger answers from what it stored: checkpoints, proofs, card histories and
reconstructed balances, alerts; and the feeds it takes from the issuer (vouchers) and the CA
(revocation lists). LoggerService inherits these views; they need `storage`, `signer`,
`backend`, `ca_key`, `issuer_key` and `ltime()` from it."""

from icpurse.logger import merkle
from purse.errors import CryptoError, RecordError
from purse.records.checkpoint import Checkpoint
from purse.records.credentials import RevocationList


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
        """History and reconstructed balance: issued (vouchers) + received - paid, where paid
        includes the card's journalled payments that no log record credits (in doubt or
        refunded) and a balance carried over to a successor (see settlement.py)."""
        card_id = bytes(card_id)
        sums = self.card_sums(card_id)
        history = self.storage.all(
            "SELECT leaf_index, payer_id, recipient_id, amount, counter, ltime FROM leaves"
            " WHERE payer_id = ? OR recipient_id = ? ORDER BY leaf_index",
            (card_id, card_id),
        )
        successor = self.storage.one(
            "SELECT successor, amount, statement FROM recoveries WHERE card_id = ?", (card_id,)
        )
        predecessor = self.storage.one(
            "SELECT card_id FROM recoveries WHERE successor = ?", (card_id,)
        )
        info = {
            "card_id": card_id.hex(),
            "known": self.known_card(card_id),
            "issued": sums["issued"],
            "received": sums["received"],
            "paid": sums["paid"] + sums["unlogged_paid"],
            "balance": sums["balance"],
            "revoked": self.is_revoked(card_id),
            "in_doubt": self.in_doubt(card_id),
            "successor": None if successor is None else bytes(successor[0]).hex(),
            "statement": None if successor is None else bytes(successor[2]).hex(),
            "predecessor": None if predecessor is None else bytes(predecessor[0]).hex(),
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
        return info

    def alerts(self):
        """Overspending payers and cryptographic proofs of clones (reused payer counters)."""
        overspend = []
        # A card in good standing is judged on its payments up to the payer counter of its
        # last stamp: its sync logged the records of what it was paid before it took that
        # stamp, so a payment up to there that its credits do not cover is an overspend. Its
        # next JOURNAL_MAX payments may spend a credit the card has not logged yet (it may,
        # within the window): an honest card must never be named for that (docs/PROTOCOL.md
        # section 7.3). Payments beyond those no recipient following the rules accepts, so
        # they count again; and a revoked, cloned or modified card is judged on every payment.
        barred = self.barred()
        payers = self.storage.all(
            "SELECT payer_id FROM leaves UNION SELECT payer_id FROM payments"
        )
        for (payer_id,) in payers:
            payer_id = bytes(payer_id)
            sums = self.judged_sums(payer_id, barred)
            if sums["balance"] < 0:
                overspend.append(
                    {"card_id": payer_id.hex(), "issued": sums["issued"],
                     "received": sums["received"],
                     "paid": sums["paid"] + sums["unlogged_paid"]}
                )  # fmt: skip
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

    def set_revocation(self, data):
        """Store a newer CA-signed revocation list, which the logger then serves to terminals."""
        rl = self._checked(RevocationList, data, self.ca_key, "revocation list")
        current = self.revocation()
        if current == rl.encode():
            # The same list again (a retry whose first answer was lost): as the first time.
            return rl
        if current is not None and RevocationList.decode(current).sequence >= rl.sequence:
            raise SubmitError(409, "a revocation list as new or newer is already served")
        # The settlement window of a newly revoked card starts when the logger learns of it.
        ltime = self.ltime()
        statements = [("INSERT INTO revocations VALUES (?, ?)", (rl.sequence, rl.encode()))]
        for card_id in rl.revoked:
            statements.append(
                ("INSERT INTO revoked_cards (card_id, ltime) VALUES (?, ?)"
                 " ON CONFLICT (card_id) DO NOTHING", (bytes(card_id), ltime))
            )  # fmt: skip
        self.storage.write(statements)
        return rl

    def revocation(self):
        row = self.storage.one("SELECT record FROM revocations ORDER BY sequence DESC LIMIT 1")
        return None if row is None else bytes(row[0])

    def is_revoked(self, card_id):
        # Every card any list named: the CA's lists leave out cards revoked long ago (their
        # stamps are stale), but the logger never forgets them.
        row = self.storage.one("SELECT 1 FROM revoked_cards WHERE card_id = ?", (bytes(card_id),))
        return row is not None
