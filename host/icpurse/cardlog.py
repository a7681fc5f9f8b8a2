"""The card's local log in words: what GET LOG returns, for the holder at a terminal.

The card keeps, in RAM, its last purse.wallet.card.LOG_SIZE refusals as 4 bytes each: the
command's INS, the reason's number (purse.applet.LOG_REASONS) and the status word the peer saw.
This module turns them into lines; `icpurse card log PORT` prints them.
"""

from icpurse.statuswords import explain
from purse import applet, errors, proto

# Each reason class in words, looked up through purse.applet.LOG_REASONS, so the card's numbers
# are declared once.
_REASON_WORDS = {
    errors.InvalidSignature: "a signature did not verify",
    errors.InvalidKey: "a public key was malformed",
    errors.SealError: "the sealed challenge (eC) did not open",
    errors.CredentialError: "a certificate or voucher was not acceptable here",
    errors.CryptoError: "an integrity check failed",
    errors.RecordError: "a record was malformed",
    errors.TLVError: "the command's data was malformed",
    errors.APDUError: "the command APDU was malformed",
    errors.StoreError: "the card's stored state was damaged",
    errors.Refusal: "the card refused it",
    applet.BadP1P2: "P1 or P2 was wrong",
}


def _command_names():
    names = {}
    for name in dir(proto):
        if name.startswith("INS_"):
            names[getattr(proto, name)] = name[4:].replace("_", " ")
    return names


_COMMANDS = _command_names()


def reason_words(reason):
    """The words of a reason number of the card's log."""
    if 1 <= reason <= len(applet.LOG_REASONS):
        return _REASON_WORDS.get(applet.LOG_REASONS[reason - 1], "reason %d" % reason)
    return "no more detail" if reason == 0 else "unknown reason %d" % reason


def describe(entry):
    """One line for one (INS, reason, status word) entry of CardClient.log()."""
    ins, reason, sw = entry
    command = "an unreadable command" if ins == 0 else _COMMANDS.get(ins, "INS %02X" % ins)
    return "%s: %s; answered %s" % (command, reason_words(reason), explain(sw))


def lines(entries):
    """The lines of a whole log, oldest first, from CardClient.log()."""
    return [describe(entry) for entry in entries]
