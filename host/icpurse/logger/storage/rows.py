"""The rows the storage layer hands out, with named fields instead of positions.

Values are as the database driver gives them (bytes may come back as memoryview-like values,
integers as int); callers convert them where they did before, with bytes() and int().
"""

from typing import Any, NamedTuple


class LeafEntry(NamedTuple):
    """A leaf's record and the receipt the logger signed for it."""

    record: Any
    receipt: Any


class CardLeaf(NamedTuple):
    """A leaf as a card's history shows it."""

    leaf_index: Any
    payer_id: Any
    recipient_id: Any
    amount: Any
    counter: Any
    ltime: Any


class StoredLeaf(NamedTuple):
    """What the appender compares a new record of a stored challenge with."""

    leaf_index: Any
    record_hash: Any
    receipt: Any
    amount: Any


class NewLeaf(NamedTuple):
    """A row of the leaves table, as the appender inserts it (in the table's column order)."""

    leaf_index: int
    identity: bytes
    record: bytes
    record_hash: bytes
    payer_key: bytes
    payer_id: bytes
    counter: int
    recipient_id: bytes
    amount: int
    ltime: int
    receipt: bytes


class Evidence(NamedTuple):
    kind: Any
    payer_id: Any
    record: Any
    conflicts_with: Any
    ltime: Any


class Voucher(NamedTuple):
    """A row of the vouchers table."""

    card_id: Any
    sequence: Any
    issued: Any
    public_key: Any
    record: Any
    reason: Any
    reference: Any


class JournalPayment(NamedTuple):
    """A row of the payments table: a payment a payer's journal holds."""

    payment_key: Any
    identity: Any
    payer_id: Any
    payer_key: Any
    counter: Any
    amount: Any
    record: Any
    seen: Any
    shown: Any


class Unsettled(NamedTuple):
    """A journalled payment that no leaf logs and no settlement settles (in doubt)."""

    payment_key: Any
    payer_id: Any
    amount: Any
    counter: Any
    seen: Any
    record: Any


class Recovery(NamedTuple):
    """A row of the recoveries table: a closed card and its successor."""

    card_id: Any
    successor: Any
    amount: Any
    shortfall: Any
    statement: Any
    ltime: Any
    voucher_sequence: Any


class Stamp(NamedTuple):
    """The newest stamp the logger signed for a card."""

    counter: Any
    ltime: Any


class CardTotals(NamedTuple):
    """A card's ledger totals as the tables hold them (settlement rules combine them)."""

    issued: int
    received: int
    paid: int
    unlogged: int
    carried: int


class LoadParts(NamedTuple):
    """What a card's vouchers issued, and the parts of it that were not loaded for value."""

    issued: int
    refunds: int
    recovered: int
