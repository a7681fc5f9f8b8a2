"""Provisioning and credential updates: key generation on the card, trust anchors, CertT,
risk parameters, the lock, value loads (VoucherI), revocation lists and L-time from tickets.

Provisioning (FRESH -> KEYED -> READY) is refused with Locked once the card is READY.
"""

import hashlib

from purse import proto
from purse.crypto import ecdsa, encoding
from purse.errors import CredentialError, LimitExceeded, Locked, MustSync, WrongState
from purse.records.credentials import Certificate, RevocationList, RiskParameters, Voucher
from purse.wallet.card import advance_ltime
from purse.wallet.state import blob_name
from purse.wallet.tickets import check_ticket

_ANCHORS = {
    proto.TRUST_CA: "ca_key",
    proto.TRUST_ISSUER: "issuer_key",
    proto.TRUST_LOGGER: "logger_key",
}


def _personalising(card):
    if card.state.lifecycle == proto.STATE_READY:
        raise Locked("personalisation is locked")


def generate_key(card, host_entropy=b""):
    """FRESH -> KEYED: SkU and K from the card's randomness mixed with the host's.

    Only the public key leaves the card. Returns (IdU, PkU).
    """
    _personalising(card)
    card.require(proto.STATE_FRESH)
    state = card.next_state()
    secret = ecdsa.generate_private(card.rng(32) + bytes(host_entropy))
    state.secret = secret.to_bytes(32, "big")
    # K never leaves the card; it is drawn apart from SkU so that neither reveals the other.
    state.seal_key = hashlib.sha256(b"icpurse/K" + card.rng(32) + bytes(host_entropy)).digest()
    x, y = ecdsa.public_point(secret)
    state.public_key = encoding.encode_point(x, y)
    state.lifecycle = proto.STATE_KEYED
    card.commit(state)
    return card.card_id(), state.public_key


def install_trust(card, which, key):
    """Install PkT, PkI or PkL (which = TRUST_*); the key must be a valid point. PkL comes
    with the id of the card's log, PkL || log id: L's key alone does not name one log."""
    _personalising(card)
    card.require(proto.STATE_KEYED)
    attr = _ANCHORS.get(which)
    if attr is None:
        raise WrongState("unknown trust anchor %d" % which)
    key = bytes(key)
    size = proto.PUBLIC_KEY_SIZE
    if which == proto.TRUST_LOGGER:
        size += proto.LOG_ID_SIZE
    if len(key) != size:
        raise CredentialError("a trust anchor is a 33-byte compressed key (PkL: and a log id)")
    state = card.next_state()
    if which == proto.TRUST_LOGGER:
        state.log_id = key[proto.PUBLIC_KEY_SIZE :]
        key = key[: proto.PUBLIC_KEY_SIZE]
    encoding.decode_point(key)
    setattr(state, attr, key)
    card.commit(state)
    # Its table is made now, at provisioning, so that no boot and no payment waits for it.
    card.trust_anchors()


def install_certificate(card, data):
    """CertT(U): must verify with PkT and name this card's own key."""
    _personalising(card)
    card.require(proto.STATE_KEYED)
    if card.state.ca_key is None:
        raise WrongState("install PkT before the certificate")
    cert = Certificate.decode(data)
    cert.verify(card.backend, card.state.ca_key)
    if cert.public_key != card.state.public_key:
        raise CredentialError("the certificate is for another key")
    _replace_blob(card, "certificate_blob", "c", cert.encode())


def install_risk(card, data):
    """Risk parameters signed by SkI, newer than the installed ones; allowed after LOCK too."""
    if card.state.lifecycle == proto.STATE_FRESH:
        raise WrongState("generate the key first")
    if card.state.issuer_key is None:
        raise WrongState("install PkI before the risk parameters")
    risk = RiskParameters.decode(data)
    risk.verify(card.backend, card.state.issuer_key)
    current = card.risk()
    if current is not None and risk.sequence <= current.sequence:
        raise WrongState(
            "risk parameters %d are not newer than %d" % (risk.sequence, current.sequence)
        )
    _replace_blob(card, "risk_blob", "r", risk.encode())


def lock(card):
    """KEYED -> READY, once the card has its certificate, all trust anchors and risk limits."""
    _personalising(card)
    card.require(proto.STATE_KEYED)
    s = card.state
    if None in (s.certificate_blob, s.risk_blob, s.ca_key, s.issuer_key, s.logger_key):
        raise WrongState("certificate, trust anchors and risk parameters must come before LOCK")
    state = card.next_state()
    state.lifecycle = proto.STATE_READY
    card.commit(state)


def take_ticket(card, data):
    """Advance L-time with a ticket for the current nonce (the first L-time of a new card)."""
    ticket = check_ticket(card, data, 0xFFFFFFFF)
    state = card.next_state()
    advance_ltime(state, ticket.ltime)
    card.nonce = None
    card.commit(state)


def load_voucher(card, data):
    """VoucherI(U): verify with PkI, for this card, newer, w not smaller; credit the increase."""
    card.require(proto.STATE_READY)
    voucher = Voucher.decode(data)
    # A voucher of another log: the card's payments would reach a ledger that never saw it
    # loaded, and its own logger would refuse them (docs/PROTOCOL.md section 7.7).
    voucher.verify(card.backend, card.state.issuer_key, card.state.log_id)
    if voucher.public_key != card.state.public_key:
        raise CredentialError("the voucher was issued to another card")
    current = card.voucher()
    if current is not None and (
        voucher.sequence <= current.sequence or voucher.issued < current.issued
    ):
        raise WrongState("voucher %d is not newer than %d" % (voucher.sequence, current.sequence))
    increase = voucher.issued - card.issued()
    state = card.next_state()
    state.balance += increase
    risk = card.risk()
    if state.balance > risk.balance_cap:
        raise LimitExceeded("the load would pass the balance cap")
    _replace_blob(card, "voucher_blob", "v", voucher.encode(), state)
    return state.balance


def take_stamp(card, data):
    """TAKE STAMP: L's stamp for this card, at least as new as the one it holds, for a counter
    the card has reached. L holds every payment up to that counter, so the journal drops them;
    the stamp's L-time advances the card's."""
    card.require(proto.STATE_READY)
    # A card takes a stamp only once L has receipted every record it holds: L then knows every
    # credit its payments up to the stamp could spend, which its overspend alert relies on
    # (docs/PROTOCOL.md section 7.3), whoever asked L for the stamp and hands it over.
    if card.state.outbox:
        raise MustSync("the outbox holds records the logger has not receipted: log them first")
    from purse.records.stamp import Stamp  # Only a sync needs it (a card's heap is small).

    stamp = Stamp.decode(data)
    stamp.verify(card.backend, card.state.logger_key, card.state.log_id)
    if stamp.card_id != card.card_id():
        raise CredentialError("the stamp is for another card")
    if stamp.counter > card.state.pay_counter:
        raise CredentialError("the stamp names a payment counter the card has not reached")
    current = card.stamp()
    if current is not None and (stamp.ltime < current.ltime or stamp.counter < current.counter):
        raise WrongState("the stamp is older than the one the card holds")
    state = card.next_state()
    kept = []
    drop = []
    for entry in state.journal:
        if entry.counter > stamp.counter:
            kept.append(entry)
        else:
            drop.append(entry.name)
    state.journal = kept
    advance_ltime(state, stamp.ltime)
    old = state.stamp_blob
    number = state.take_blob_number()
    state.stamp_blob = number
    if old is not None:
        drop.append(blob_name("s", old))
    card.commit(state, {blob_name("s", number): stamp.encode()}, drop)


def install_revocation(card, data):
    """A newer CA-signed revocation list; its L-time advances the card's."""
    card.require(proto.STATE_READY)
    rl = RevocationList.decode(data)
    rl.verify(card.backend, card.state.ca_key)
    current = card.revocation()
    if current is not None and rl.sequence <= current.sequence:
        raise WrongState(
            "revocation list %d is not newer than %d" % (rl.sequence, current.sequence)
        )
    state = card.next_state()
    advance_ltime(state, rl.ltime)
    _replace_blob(card, "revocation_blob", "x", rl.encode(), state)
    # The card checks revocation on every payment, remembered credentials included; what
    # the backend remembered goes all the same, so nothing verified before a revocation is
    # taken on trust after it.
    card.backend.forget_verified()


def _replace_blob(card, attr, letter, data, state=None):
    """Commit `data` as a new blob referenced by `attr`, dropping the blob it replaces."""
    if state is None:
        state = card.next_state()
    old = getattr(state, attr)
    number = state.take_blob_number()
    setattr(state, attr, number)
    drop = () if old is None else (blob_name(letter, old),)
    card.commit(state, {blob_name(letter, number): data}, drop)
