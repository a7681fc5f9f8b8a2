"""The card: its state, the records it holds, and the one way it changes — an atomic commit.

Every command builds the next state on a copy, checks everything first, and commits once at
the end; a refusal raises before the commit, so the stored state is unchanged byte for byte.
Time and randomness come from outside: `rng(n)` returns n random bytes (a board mixes its
sources into it), and the only clock that orders events is L-time, taken from records the
logger or the CA signed. A running clock, `clock()` in milliseconds that never goes back (the
board glue's, since the core reads no clock itself), times only how long a pending challenge
lives: those are kept in RAM and die with a restart.
"""

from purse import proto
from purse.compat import const
from purse.crypto.pure import PureBackend
from purse.errors import MustSync, WrongState
from purse.records import fields as f
from purse.records.credentials import Certificate, RevocationList, RiskParameters, Voucher
from purse.wallet.state import CardState, blob_name

# Refusal details kept in RAM for the holder's terminal (docs/DESIGN.md section 6): the peer only
# ever sees the status word. Each entry is 4 bytes, INS || reason || SW (GET LOG), where the
# reason is purse.applet.LOG_REASONS' number for the exception; icpurse.cardlog reads them.
LOG_SIZE = const(16)


class _CardSigner:
    """Signs with the card's key without recomputing its public key (a scalar multiplication)."""

    def __init__(self, card):
        self._card = card
        self.public_key = card.state.public_key

    def sign(self, message, extra_entropy=None):
        return self._card.backend.sign(self._card.state.secret, message, extra_entropy)


# The card's anchors (CardState attribute) and the store files that keep their tables.
ANCHOR_TABLES = (("ca_key", "tableT"), ("issuer_key", "tableI"), ("logger_key", "tableL"))


class Card:
    def __init__(self, store, rng, clock, backend=None, confirm=None, anchor_spans=0):
        self.store = store
        self.rng = rng
        self.clock = clock
        self.backend = backend or PureBackend()
        # confirm(x, recipient card id or None) -> bool: the holder's approval of a payment.
        # One that can also answer without being spent, admits(x) -> bool (purse.tap.Armed),
        # is asked that before PAY checks anything else (wallet.payer).
        self.confirm = confirm
        # Spans of the precomputed table of each anchor key (16: 8 KiB each, 8: 4 KiB; 0: no
        # tables), from the board's profile: a board with the memory verifies CertT, VoucherI
        # and stamps in about 0.4 of the work (purse.crypto.pure).
        self.anchor_spans = anchor_spans
        self.nonce = None
        self.log = []
        self.load()

    # --- loading and committing ---------------------------------------------------------------

    def load(self):
        """(Re)read the state from the store and remove what a cut commit left behind."""
        payload = self.store.load()
        self.state = CardState() if payload is None else CardState.decode(payload)
        self.store.collect_garbage(self.state.referenced() + self._table_names())
        self._parsed = {}
        self._declared = []  # The anchor keys trust_anchors declared since this load.
        self.trust_anchors()
        self.nonce = None
        # Challenges waiting for their payment (wallet.state.Pending), newest last: RAM only,
        # so that none can be accepted after a restart (docs/PROTOCOL.md sections 6 and 7.0).
        self.pending = []

    def _table_names(self):
        """The store files of the tables of the anchors the state holds."""
        return [name for attr, name in ANCHOR_TABLES if getattr(self.state, attr) is not None]

    def trust_anchors(self):
        """Declare the state's anchor keys to the backend, each with its table where the
        profile wants tables: read from the store, or made (and kept) if missing, damaged or
        of another key. Tables are made when an anchor is installed (provisioning), so a
        boot only reads them; a card whose profile changed makes them at its next boot. A key
        declared since the last load is not read again: the backend holds its table, and a
        second 8 KB copy is more than a small heap has while the next anchor's is made."""
        backend = self.backend
        backend.forget_verified()
        for attr, name in ANCHOR_TABLES:
            key = getattr(self.state, attr)
            if key is None or key in self._declared:
                continue
            self._declared.append(key)
            table = self.store.read_cache(name) if self.anchor_spans else None
            if backend.trust(key, table) or not self.anchor_spans:
                continue
            table = None  # The one read back is of no use: its memory goes first.
            table = backend.anchor_table(key, self.anchor_spans)
            if table is not None:
                self.store.write_cache(name, table)
                backend.trust(key, table)

    def commit(self, state, new_blobs=None, drop=()):
        # The state frames itself in the store's buffer (purse.store.Store.commit).
        self.store.commit(state, new_blobs, drop)
        self.state = state
        for name in drop:
            self._parsed.pop(name, None)

    def note(self, ins, reason, sw):
        """Keep the detail of a refusal in the card's local log: the command's INS, the
        reason's number and the status word the peer saw, in 4 bytes (a card's RAM is small)."""
        self.log.append(bytes((ins, reason, sw >> 8, sw & 0xFF)))
        if len(self.log) > LOG_SIZE:
            self.log.pop(0)

    # --- what the card holds ------------------------------------------------------------------

    def _record(self, cls, letter, number):
        if number is None:
            return None
        name = blob_name(letter, number)
        parsed = self._parsed.get(name)
        if parsed is None:
            parsed = cls.decode(self.store.read_blob(name))
            self._parsed[name] = parsed
        return parsed

    def certificate(self):
        return self._record(Certificate, "c", self.state.certificate_blob)

    def voucher(self):
        return self._record(Voucher, "v", self.state.voucher_blob)

    def risk(self):
        return self._record(RiskParameters, "r", self.state.risk_blob)

    def revocation(self):
        return self._record(RevocationList, "x", self.state.revocation_blob)

    def stamp(self):
        # Imported here: only a card that has synced holds one.
        from purse.records.stamp import Stamp

        return self._record(Stamp, "s", self.state.stamp_blob)

    def card_id(self):
        return f.card_id(self.state.public_key)

    def signer(self):
        return _CardSigner(self)

    def issued(self):
        voucher = self.voucher()
        return 0 if voucher is None else voucher.issued

    def is_revoked(self, card_id):
        revocation = self.revocation()
        return revocation is not None and revocation.is_revoked(card_id)

    # --- checks shared by payer and recipient ---------------------------------------------------

    def require(self, lifecycle):
        if self.state.lifecycle != lifecycle:
            raise WrongState("the card is not in life-cycle state %d" % lifecycle)

    def require_trade(self):
        """Paying and receiving need a locked card, valid risk parameters and a settled outbox."""
        self.require(proto.STATE_READY)
        risk = self.risk()
        if risk is None or not risk.valid_at(self.state.ltime):
            raise MustSync("risk parameters are not valid at L-time %d" % self.state.ltime)
        for entry in self.state.outbox:
            if self.state.ltime - entry.ltime > risk.window:
                raise MustSync("an outbox entry is older than the settlement window")
        return risk

    def next_state(self):
        return self.state.copy()


def advance_ltime(state, ltime):
    """L-time only moves forward (docs/DESIGN.md section 5)."""
    if ltime > state.ltime:
        state.ltime = ltime
