"""The issuer I: loads value onto cards with vouchers (VoucherI) and signs risk parameters.

Its directory holds issuer-key.pem, issuer.pub (PkI, hex), ca.pub (PkT, to check the
certificates of the cards it loads) and issuer.sqlite, its own ledger: for every card the
cumulative issued amount w and every voucher signed.
"""

from pathlib import Path

from icpurse.authority import AuthorityError, db, keys
from icpurse.crypto_pyca import PycaBackend
from purse import proto
from purse.errors import CryptoError, RecordError
from purse.records.credentials import Certificate, RiskParameters, Voucher

KIND = "issuer"
MIGRATIONS = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE cards (
        card_id BLOB PRIMARY KEY,
        public_key BLOB NOT NULL UNIQUE,
        certificate BLOB NOT NULL,
        issued INTEGER NOT NULL,
        sequence INTEGER NOT NULL
    );
    CREATE TABLE vouchers (
        card_id BLOB NOT NULL REFERENCES cards (card_id),
        sequence INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        issued INTEGER NOT NULL,
        ltime INTEGER NOT NULL,
        record BLOB NOT NULL,
        PRIMARY KEY (card_id, sequence)
    );
    CREATE TABLE risk_parameters (
        sequence INTEGER PRIMARY KEY,
        record BLOB NOT NULL
    );
    """,
    # Why a voucher raised w: a load for value, a refund of an in-doubt payment (reference: its
    # payment key at the logger), a recovered balance (reference: the old card's id), or the first
    # voucher (w = 0) of the issuer's redemption account.
    """
    ALTER TABLE vouchers ADD COLUMN reason TEXT NOT NULL DEFAULT 'load';
    ALTER TABLE vouchers ADD COLUMN reference BLOB;
    """,
    db.PROTOCOL_2,
    # Protocol 3: a voucher names the log that keeps the card's payments, and a card belongs
    # to one log for good, learned when it is first loaded (docs/PROTOCOL.md section 7.7).
    "ALTER TABLE cards ADD COLUMN log_id BLOB;",
    db.PROTOCOL_3,
)
REASONS = ("load", "refund", "recovery", "redemption")


class Issuer:
    def __init__(self, directory, signer, conn, ca_key):
        self.directory = Path(directory)
        self.signer = signer
        self.conn = conn
        self.ca_key = ca_key

    @staticmethod
    def paths(directory):
        d = Path(directory)
        return d / "issuer-key.pem", d / "issuer.pub", d / "issuer.sqlite", d / "ca.pub"

    @classmethod
    def init(cls, directory, ca_public, passphrase=None):
        """Create the issuer's key pair and ledger, trusting the CA key `ca_public` (a .pub
        file or hex). Refuses to touch an existing issuer. Returns PkI."""
        key_path, pub_path, db_path, ca_path = cls.paths(directory)
        if db_path.exists():
            raise AuthorityError("refusing to overwrite the existing issuer ledger %s" % db_path)
        ca_key = keys.read_public(ca_public)
        public = keys.create(key_path, pub_path, passphrase)
        ca_path.write_text(ca_key.hex() + "\n")
        db.open_db(db_path, KIND, MIGRATIONS, create=True).close()
        return public

    @classmethod
    def open(cls, directory, passphrase=None):
        key_path, _, db_path, ca_path = cls.paths(directory)
        conn = db.open_db(db_path, KIND, MIGRATIONS)
        return cls(
            directory, keys.load_signer(key_path, passphrase), conn, keys.read_public(ca_path)
        )

    def register(self, certificate_bytes):
        """Accept a card by its CA certificate (checked with PkT); returns the Certificate."""
        try:
            cert = Certificate.decode(certificate_bytes)
            cert.verify(PycaBackend(), self.ca_key)
        except RecordError as exc:
            raise AuthorityError("malformed certificate: %s" % exc) from None
        except CryptoError:
            raise AuthorityError("the certificate is not signed by this issuer's CA") from None
        with db.transaction(self.conn):
            self.conn.execute(
                "INSERT OR IGNORE INTO cards (card_id, public_key, certificate, issued, sequence)"
                " VALUES (?, ?, ?, 0, 0)",
                (cert.card_id, cert.public_key, cert.encode()),
            )
        return cert

    def card(self, card_id):
        """(public key, issued w, voucher sequence) of a registered card."""
        row = self.conn.execute(
            "SELECT public_key, issued, sequence FROM cards WHERE card_id = ?", (bytes(card_id),)
        ).fetchone()
        if row is None:
            raise AuthorityError(
                "unknown card %s: register it with its certificate (--certificate)"
                % bytes(card_id).hex()
            )
        return row

    def log_of(self, card_id):
        """The id of the log card `card_id` belongs to, or None before its first voucher."""
        row = self.conn.execute(
            "SELECT log_id FROM cards WHERE card_id = ?", (bytes(card_id),)
        ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def load(self, card_id, amount, ltime, reason="load", reference=None, publish=None,
             log_id=None):  # fmt: skip
        """Raise the card's cumulative issued amount by `amount` and sign the voucher. An amount
        of 0 issues a card's first voucher: a payment always shows one, even from received
        money only. `reason` is "load" (value paid in), "refund" or "recovery" (see
        icpurse.settle), or "redemption" (icpurse.redemption). `publish(voucher)`, the issuer
        feed to the logger, runs before the voucher is committed here: if the logger refuses
        it, the issuer records nothing.

        The voucher names the card's log (docs/PROTOCOL.md section 7.7). The first voucher
        learns it from `log_id` (the log of the logger the card was provisioned with), and the
        card keeps it for good; a later `log_id` must be the same, so that a voucher is never
        signed for, or handed to, a logger of another log."""
        if not 0 <= amount <= proto.MAX_AMOUNT:
            raise AuthorityError("amount must be from 0 to %d" % proto.MAX_AMOUNT)
        if reason not in REASONS:
            raise AuthorityError("reason must be one of %s" % ", ".join(REASONS))
        with db.transaction(self.conn):
            public_key, issued, sequence = self.card(card_id)
            log_id = self._log_for(card_id, log_id)
            if issued + amount > proto.MAX_ISSUED:
                raise AuthorityError("the card's issued total would pass %d" % proto.MAX_ISSUED)
            voucher = Voucher(public_key, issued + amount, sequence + 1, ltime, log_id)
            voucher.sign(self.signer)
            self.conn.execute(
                "UPDATE cards SET issued = ?, sequence = ?, log_id = ? WHERE card_id = ?",
                (voucher.issued, voucher.sequence, log_id, bytes(card_id)),
            )
            self.conn.execute(
                "INSERT INTO vouchers (card_id, sequence, amount, issued, ltime, record, reason,"
                " reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (bytes(card_id), voucher.sequence, amount, voucher.issued, ltime,
                 voucher.encode(), reason, None if reference is None else bytes(reference)),
            )  # fmt: skip
            if publish is not None:
                publish(voucher.encode())
        return voucher

    def _log_for(self, card_id, given):
        """The log a voucher for the card names: the one it belongs to, which `given` must
        match; `given` for a card's first voucher. Never none."""
        known = self.log_of(card_id)
        given = None if given is None else bytes(given)
        if given is not None and len(given) != proto.LOG_ID_SIZE:
            raise AuthorityError("a log id is %d bytes" % proto.LOG_ID_SIZE)
        if known is not None and given is not None and given != known:
            raise AuthorityError(
                "card %s belongs to log %s, not to log %s: its vouchers go to its own logger"
                % (bytes(card_id).hex(), known.hex(), given.hex())
            )
        if known is None and given is None:
            raise AuthorityError(
                "the issuer does not know the log of card %s yet: give the logger it was"
                " provisioned with (--logger URL) or its log id (--log-id HEX)"
                % bytes(card_id).hex()
            )
        return known or given

    def totals(self):
        """Amounts the issuer's own ledger holds, by reason: {"load": n, "refund": n, ...}."""
        rows = self.conn.execute("SELECT reason, SUM(amount) FROM vouchers GROUP BY reason")
        out = dict.fromkeys(REASONS, 0)
        for reason, total in rows:
            out[reason] = int(total)
        return out

    def vouchers(self):
        """Every voucher signed: (card id, sequence, amount, issued, reason, reference, record)."""
        return self.conn.execute(
            "SELECT card_id, sequence, amount, issued, reason, reference, record FROM vouchers"
            " ORDER BY card_id, sequence"
        ).fetchall()

    def risk(self, balance_cap, payment_cap, unlogged_cap, window, not_before, not_after):
        """Sign the next risk parameters for every card."""
        for name, value in (
            ("balance cap", balance_cap),
            ("payment cap", payment_cap),
            ("unlogged-credit cap", unlogged_cap),
            ("settlement window", window),
        ):
            if not 0 <= value <= proto.MAX_AMOUNT:
                raise AuthorityError("%s must be from 0 to %d" % (name, proto.MAX_AMOUNT))
        if payment_cap > balance_cap:
            raise AuthorityError("the payment cap cannot exceed the balance cap")
        with db.transaction(self.conn):
            (sequence,) = self.conn.execute(
                "SELECT COALESCE(MAX(sequence), 0) + 1 FROM risk_parameters"
            ).fetchone()
            try:
                params = RiskParameters(
                    sequence, balance_cap, payment_cap, unlogged_cap, window, not_before, not_after
                )
                params.sign(self.signer)
            except RecordError as exc:
                raise AuthorityError(str(exc)) from None
            self.conn.execute(
                "INSERT INTO risk_parameters VALUES (?, ?)", (sequence, params.encode())
            )
        return params
