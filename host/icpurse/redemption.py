"""The issuer's redemption account: where a card pays value back to the issuer (docs/DESIGN.md
section 5: redemption is an ordinary transfer to the issuer's redemption account).

The account is a wallet like any card — the firmware's own Card and Applet, driven through
CardClient — that the issuer runs on the host: its key is generated inside it, the CA certifies
it, and it answers a payer's payment with the same challenge, checks and log record as a board.
A redemption is therefore an ordinary transfer, witnessed by the logger, to a card the logger
knows as the issuer's account (its first voucher says so, reason "redemption"); the ledger counts
what it receives as redeemed, not as a card balance.

Its store lives in the issuer's directory as an SQLite file (`SQLiteBackend`, the store backend
interface of purse.store), so every commit of the wallet is one durable transaction. Its own
risk parameters let it hold up to the u32 balance limit; it never pays.
"""

import os
import sqlite3
import time

from icpurse.authority import AuthorityError, validity
from icpurse.crypto_pyca import PycaBackend
from icpurse.terminal import transfer
from purse import proto
from purse.applet import Applet
from purse.client import CardClient, personalise
from purse.records.credentials import RiskParameters
from purse.store import Store
from purse.wallet.card import Card

FILE = "redemption.sqlite"
# The account holds what cards redeem. Recipients enforce the payment cap too (docs/PROTOCOL.md
# section 7), so its cap is the u32 limit: it takes whatever a card may pay. It never pays:
# nothing but this module drives its applet, and this module never sends it PAY.
RISK = {
    "balance_cap": proto.MAX_AMOUNT,
    "payment_cap": proto.MAX_AMOUNT,
    "unlogged_cap": proto.MAX_AMOUNT,
}


def monotonic_ms():
    """The account's running clock for its pending challenges (purse.wallet.card.Card)."""
    return int(time.monotonic() * 1000)


class SQLiteBackend:
    """purse.store's file interface on one SQLite table: read, write, rename (atomic), remove,
    names. Every operation is its own durable transaction (synchronous=FULL)."""

    def __init__(self, path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, data BLOB NOT NULL)"
        )

    def read(self, name):
        row = self.conn.execute("SELECT data FROM files WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def write(self, name, data):
        self.conn.execute("INSERT OR REPLACE INTO files VALUES (?, ?)", (name, bytes(data)))

    def rename(self, old, new):
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if self.read(old) is None:
                raise OSError(2, "no such file", old)
            self.conn.execute("DELETE FROM files WHERE name = ?", (new,))
            self.conn.execute("UPDATE files SET name = ? WHERE name = ?", (new, old))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def remove(self, name):
        self.conn.execute("DELETE FROM files WHERE name = ?", (name,))

    def names(self):
        return [row[0] for row in self.conn.execute("SELECT name FROM files")]

    def close(self):
        self.conn.close()


class RedemptionAccount:
    def __init__(self, issuer):
        self.issuer = issuer
        self.backend = SQLiteBackend(issuer.directory / FILE)
        card = Card(Store(self.backend), os.urandom, monotonic_ms, PycaBackend())
        self.client = CardClient(Applet(card).process)
        self.client.select()

    @property
    def ready(self):
        return self.client.info().state == proto.STATE_READY

    def open(self, ca, logger, days=10 * 365):
        """Personalise the account the first time (its key is made inside it, the CA certifies
        it, the logger learns it is the issuer's account); afterwards just its Info."""
        if self.ready:
            return self.client.info()
        if ca is None:
            raise AuthorityError(
                "the redemption account is new: give the CA (--ca DIR) to certify it"
            )
        now = int(time.time())
        certificate = {}

        def certify(public_key):
            cert = ca.certify(public_key, *validity(days, now))
            certificate["record"] = cert.encode()
            return certificate["record"]

        risk = RiskParameters(
            1, RISK["balance_cap"], RISK["payment_cap"], RISK["unlogged_cap"], 7 * 86400,
            *validity(days, now),
        ).sign(self.issuer.signer)  # fmt: skip
        log_id = logger.log_id()
        anchors = (self.issuer.ca_key, self.issuer.signer.public_key, logger.logger_key + log_id)
        info = personalise(self.client, anchors, certify, risk.encode(), logger.ticket)
        self.issuer.register(certificate["record"])
        voucher = self.issuer.load(
            info.card_id, 0, now, reason="redemption",
            publish=lambda v: logger.publish_voucher(v, "redemption"), log_id=log_id,
        )  # fmt: skip
        self.client.load_voucher(voucher.encode())
        return self.client.info()

    def redeem(self, payer, amount, logger):
        """The card behind `payer` (a CardClient) pays `amount` to the account; the log record
        goes to the logger at once. Returns the terminal's Outcome."""
        if logger.logger_key is None:
            raise AuthorityError("redemption needs the logger's key to check its receipts")
        return transfer(payer, self.client, amount, logger=logger)

    def close(self):
        self.backend.close()
