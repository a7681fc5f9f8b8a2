"""The certification authority T: certifies card keys (CertT) and signs revocation lists.

Its directory holds ca-key.pem (the private key), ca.pub (the public key PkT, hex) and
ca.sqlite (every certificate issued, every revocation and every list signed).
"""

from pathlib import Path

from icpurse.authority import AuthorityError, db, keys
from purse import proto
from purse.crypto.encoding import decode_point
from purse.errors import InvalidKey, RecordError
from purse.records.credentials import Certificate, RevocationList

KIND = "ca"
# How long a revoked card stays on the lists the CA signs (seconds of L-time). A revoked card
# gets no stamp from the logger, so once a recipient's L-time is a window past the revocation
# it refuses the card's payments as stale (docs/PROTOCOL.md section 7.0) whether or not the
# list names it. This must be at least the longest settlement window (risk parameter 9B) the
# issuer gives cards; twice the default of 7 days leaves a margin. A list then holds the cards
# revoked in the last KEEP seconds, at most proto.MAX_REVOKED, however many the CA revokes over
# the system's life.
KEEP = 14 * 86400
MIGRATIONS = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE certificates (
        serial INTEGER PRIMARY KEY,
        card_id BLOB NOT NULL UNIQUE,
        public_key BLOB NOT NULL UNIQUE,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        record BLOB NOT NULL
    );
    CREATE TABLE revoked (
        card_id BLOB PRIMARY KEY REFERENCES certificates (card_id),
        ltime INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE revocation_lists (
        sequence INTEGER PRIMARY KEY,
        ltime INTEGER NOT NULL,
        record BLOB NOT NULL
    );
    """,
    db.PROTOCOL_2,
    db.PROTOCOL_3,
)


class CertificationAuthority:
    def __init__(self, directory, signer, conn):
        self.directory = Path(directory)
        self.signer = signer
        self.conn = conn

    @staticmethod
    def paths(directory):
        d = Path(directory)
        return d / "ca-key.pem", d / "ca.pub", d / "ca.sqlite"

    @classmethod
    def init(cls, directory, passphrase=None):
        """Create the CA's key pair and database; refuses to touch an existing CA. Returns PkT."""
        key_path, pub_path, db_path = cls.paths(directory)
        if db_path.exists():
            raise AuthorityError("refusing to overwrite the existing CA database %s" % db_path)
        public = keys.create(key_path, pub_path, passphrase)
        db.open_db(db_path, KIND, MIGRATIONS, create=True).close()
        return public

    @classmethod
    def open(cls, directory, passphrase=None):
        key_path, _, db_path = cls.paths(directory)
        conn = db.open_db(db_path, KIND, MIGRATIONS)
        return cls(directory, keys.load_signer(key_path, passphrase), conn)

    def certify(self, public_key, not_before, not_after):
        """Sign CertT for a card key; a key is certified once. Returns the Certificate."""
        try:
            cert = Certificate(0, public_key, not_before, not_after)
            decode_point(cert.public_key)
        except RecordError as exc:
            raise AuthorityError(str(exc)) from None
        except InvalidKey as exc:
            raise AuthorityError("not a valid P-256 public key: %s" % exc) from None
        row = self.conn.execute(
            "SELECT serial FROM certificates WHERE public_key = ?", (cert.public_key,)
        ).fetchone()
        if row is not None:
            raise AuthorityError("this card key is already certified (serial %d)" % row[0])
        with db.transaction(self.conn):
            (serial,) = self.conn.execute(
                "SELECT COALESCE(MAX(serial), 0) + 1 FROM certificates"
            ).fetchone()
            cert.serial = serial
            cert.sign(self.signer)
            self.conn.execute(
                "INSERT INTO certificates VALUES (?, ?, ?, ?, ?, ?)",
                (serial, cert.card_id, cert.public_key, not_before, not_after, cert.encode()),
            )
        return cert

    def certificate(self, card_id):
        row = self.conn.execute(
            "SELECT record FROM certificates WHERE card_id = ?", (bytes(card_id),)
        ).fetchone()
        if row is None:
            raise AuthorityError("unknown card %s: the CA never certified it" % card_id.hex())
        return Certificate.decode(row[0])

    def revoke(self, card_ids, ltime, reason="revoked", keep=KEEP):
        """Revoke cards and sign the next revocation list, which names the cards revoked in
        the last `keep` seconds before `ltime` (KEEP). Returns the RevocationList."""
        for card_id in card_ids:
            self.certificate(card_id)
        with db.transaction(self.conn):
            for card_id in card_ids:
                self.conn.execute(
                    "INSERT OR IGNORE INTO revoked VALUES (?, ?, ?)", (card_id, ltime, reason)
                )
            revoked = [
                r[0]
                for r in self.conn.execute(
                    "SELECT card_id FROM revoked WHERE ltime > ? ORDER BY card_id", (ltime - keep,)
                )
            ]
            if len(revoked) > proto.MAX_REVOKED:
                raise AuthorityError(
                    "a revocation list holds at most %d cards, and %d were revoked in the last"
                    " %d days" % (proto.MAX_REVOKED, len(revoked), keep // 86400)
                )
            (sequence,) = self.conn.execute(
                "SELECT COALESCE(MAX(sequence), 0) + 1 FROM revocation_lists"
            ).fetchone()
            rl = RevocationList(sequence, ltime, revoked).sign(self.signer)
            self.conn.execute(
                "INSERT INTO revocation_lists VALUES (?, ?, ?)", (sequence, ltime, rl.encode())
            )
        return rl
