"""What the logger answers from what it stored: checkpoints, proofs, card histories and
reconstructed balances, alerts; and the feeds it takes from the issuer (vouchers) and the CA
(revocation lists). LoggerService inherits these views; they need `storage`, `signer`,
`backend`, `ca_key`, `issuer_key` and `ltime()` from it."""

from icpurse.logger import merkle
from icpurse.logger.service.errors import SubmitError
from icpurse.logger.service.totals import judged_sums
from purse.errors import CryptoError, RecordError
from purse.records.checkpoint import Checkpoint
from purse.records.credentials import RevocationList

# Entries of a card's history in one answer: a busy card's whole history (1.66 MB for one card
# in a pilot's test) is fetched page by page.
HISTORY_PAGE = 500


class LedgerViews:
    # --- reading ------------------------------------------------------------------------------

    def tree_size(self):
        return self.storage.tree_size()

    def checkpoint(self):
        """The signed checkpoint of the current tree (made and stored if the tree grew)."""
        size = self.storage.tree_size()
        stored = self.storage.checkpoint_record(size)
        if stored is not None:
            return stored
        root = merkle.root(size, self.storage.node_getter())
        record = Checkpoint(size, root, self.ltime(), self.log_id).sign(self.signer).encode()
        self.storage.add_checkpoint(size, root, record)
        return record

    def leaf(self, index):
        entry = self.storage.leaf(index)
        if entry is None:
            raise KeyError(index)
        return bytes(entry.record), bytes(entry.receipt)

    def inclusion(self, index, size):
        return merkle.inclusion_proof(index, size, self.storage.node_getter())

    def consistency(self, old, new):
        return merkle.consistency_proof(old, new, self.storage.node_getter())

    def known_card(self, card_id):
        return self.storage.known_card(bytes(card_id))

    def card(self, card_id, after=-1, limit=HISTORY_PAGE):
        """History and reconstructed balance: issued (vouchers) + received - paid, where paid
        includes the card's journalled payments that no log record credits (in doubt or
        refunded) and a balance carried over to a successor (see settlement.py). The history
        is one page: at most `limit` leaves after leaf index `after`, and `next`, the cursor
        of the page after it (None if this is the last)."""
        card_id = bytes(card_id)
        leaves = self.storage.card_leaves(card_id, after, limit)
        following = int(leaves[-1].leaf_index) if len(leaves) == limit else None
        sums = self.card_sums(card_id)
        successor = self.storage.recovery(card_id)
        predecessor = self.storage.predecessor(card_id)
        return {
            "card_id": card_id.hex(),
            "known": self.known_card(card_id),
            "issued": sums["issued"],
            "received": sums["received"],
            "paid": sums["paid"] + sums["unlogged_paid"],
            "balance": sums["balance"],
            "revoked": self.is_revoked(card_id),
            "in_doubt": self.in_doubt(card_id),
            "successor": None if successor is None else bytes(successor.successor).hex(),
            "statement": None if successor is None else bytes(successor.statement).hex(),
            "predecessor": None if predecessor is None else bytes(predecessor).hex(),
            "history": [_history(leaf, card_id) for leaf in leaves],
            "next": following,
        }

    def alerts(self):
        """Overspending payers and cryptographic proofs of clones (reused payer counters), read
        from one snapshot beside the sequencer: consistent, and never holding up appends."""
        return self.storage.snapshot(_alerts)

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
        self.storage.add_revocation(
            rl.sequence, rl.encode(), [bytes(card_id) for card_id in rl.revoked], ltime
        )
        return rl

    def revocation(self):
        return self.storage.latest_revocation()

    def is_revoked(self, card_id):
        # Every card any list named: the CA's lists leave out cards revoked long ago (their
        # stamps are stale), but the logger never forgets them.
        return self.storage.is_revoked(bytes(card_id))

    # --- what the audit reads whole -----------------------------------------------------------

    def latest_voucher(self, card_id):
        """The card's newest voucher record, or None."""
        voucher = self.storage.latest_voucher(bytes(card_id))
        return None if voucher is None else bytes(voucher.record)

    def table_page(self, table, start, limit):
        """A page of a ledger table (storage.tables.LEDGER_TABLES), as tuples of columns."""
        return self.storage.table_page(table, start, limit)

    def leaves_page(self, start, limit):
        """A page of leaves (storage.tables.LEAF_COLUMNS), as tuples of columns."""
        return self.storage.leaves_page(start, limit)


def _alerts(db):
    """The alerts (LedgerViews.alerts) as `db`, one snapshot, shows them."""
    overspend = []
    # A card in good standing is judged on its payments up to the payer counter of its
    # last stamp: its sync logged the records of what it was paid before it took that
    # stamp, so a payment up to there that its credits do not cover is an overspend. Its
    # next JOURNAL_MAX payments may spend a credit the card has not logged yet (it may,
    # within the window): an honest card must never be named for that (docs/PROTOCOL.md
    # section 7.3). Payments beyond those no recipient following the rules accepts, so
    # they count again; and a revoked, cloned or modified card is judged on every payment.
    barred = db.barred_cards()
    for payer_id in db.payers():
        payer_id = bytes(payer_id)
        sums = judged_sums(db, payer_id, barred)
        if sums["balance"] < 0:
            overspend.append(
                {"card_id": payer_id.hex(), "issued": sums["issued"],
                 "received": sums["received"],
                 "paid": sums["paid"] + sums["unlogged_paid"]}
            )  # fmt: skip
    return {
        "overspend": overspend,
        "evidence": [
            {
                "kind": e.kind,
                "payer_id": bytes(e.payer_id).hex(),
                "record": bytes(e.record).hex(),
                "conflicts_with": int(e.conflicts_with),
                "ltime": int(e.ltime),
            }
            for e in db.evidence()
        ],
    }


def _history(leaf, card_id):
    """A CardLeaf as the card's history shows it."""
    paid = bytes(leaf.payer_id) == card_id
    return {
        "leaf_index": int(leaf.leaf_index),
        "direction": "paid" if paid else "received",
        "counterpart": bytes(leaf.recipient_id if paid else leaf.payer_id).hex(),
        "amount": int(leaf.amount),
        "payer_counter": int(leaf.counter),
        "ltime": int(leaf.ltime),
    }
