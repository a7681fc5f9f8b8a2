"""Status words in words, for the people at a terminal (the card itself only sends numbers)."""

from purse import proto

# A card's life-cycle state in words (GET INFO's state byte).
STATES = {proto.STATE_FRESH: "fresh", proto.STATE_KEYED: "keyed", proto.STATE_READY: "ready"}

# What each status word means to a person at the terminal.
_WORDS = {
    proto.SW_WRONG_LENGTH: "the command had the wrong length",
    proto.SW_LAST_COMMAND_EXPECTED: "a chained command was interrupted",
    proto.SW_CHAINING_UNSUPPORTED: "this command cannot be chained",
    proto.SW_SECURITY: "a signature, certificate, voucher or seal did not check out",
    proto.SW_WRONG_STATE: "the card is not in a state to do this (order of commands)",
    proto.SW_LOCKED: "the card is personalised and locked",
    proto.SW_WRONG_DATA: "the command's data is malformed",
    proto.SW_NOT_FOUND: "the card has no icpurse application",
    proto.SW_STORE_FULL: "the card's memory is full",
    proto.SW_WRONG_P1P2: "wrong P1/P2 for this command",
    proto.SW_NO_MATCH: "no such entry on the card",
    proto.SW_INS_UNSUPPORTED: "the card does not know this command",
    proto.SW_CLA_UNSUPPORTED: "the card does not know this class byte",
    proto.SW_INTERNAL: "the card failed internally",
    proto.SW_FUNDS: "insufficient funds",
    proto.SW_LIMIT: "over a limit set by the issuer (payment, balance or unlogged credit)",
    proto.SW_CHALLENGE_UNKNOWN: "the challenge is unknown, expired or already used",
    proto.SW_MUST_SYNC: "the card must sync with the logger first",
    proto.SW_TICKET: "the logger's ready-ticket is missing or stale",
    proto.SW_DECLINED: "the holder declined the payment",
    proto.SW_REVOKED: "the other card's certificate is revoked",
    proto.SW_JOURNAL_FULL: "the card's journal is full: sync first",
    proto.SW_STALE_PAYER: "the payer has not synced within the settlement window: sync it first",
}


def explain(sw):
    return "%04X: %s" % (sw, _WORDS.get(sw, "unexpected status word"))
