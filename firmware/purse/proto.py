"""The protocol's numbers, declared once: AID, version, APDU classes and instructions, status
words, serial frame types and BER-TLV tags.

Card, emulator, host and logger all import this module; no other module declares a protocol
number. docs/PROTOCOL.md explains each value; the records issue fills in the record layouts that
use the tags below.
"""

from purse.compat import const

# Protocol version carried by every record and by the SELECT answer. Version 2 changed the
# transfer's money rules (docs/PROTOCOL.md section 7): ACCEPT names the challenge it expects
# and answers with the amount credited, pending challenges live in RAM for CHALLENGE_TTL_MS,
# and H(record) covers only what no third party can alter. Version 3 is BACKWARDS INCOMPATIBLE
# with 2: every record L signs (receipt, ticket, stamp, checkpoint, balance statement) and every
# voucher names the log it belongs to (TAG_LOG_ID), so that cards, issuer and loggers refuse
# what belongs to another log, even one that shares L's key (docs/PROTOCOL.md section 7.7).
VERSION = const(3)

# Application identifier: category F (proprietary, unregistered, ISO/IEC 7816-5), then
# "icpurse" in ASCII, then the protocol version.
AID = b"\xf0icpurse\x01"

# --- ISO 7816-4 classes -----------------------------------------------------------------------

CLA_ISO = const(0x00)  # Interindustry: SELECT, GET RESPONSE.
CLA_PROPRIETARY = const(0x80)  # Every purse command.
CLA_CHAIN = const(0x10)  # Command chaining bit: more parts of this command follow.

# Sizes that docs/DESIGN.md section 6 fixes for every APDU, header, Lc and Le included.
MAX_COMMAND_APDU = const(250)
MAX_RESPONSE_APDU = const(250)
# Largest command a card reassembles from a chain; bounds the card's receive buffer.
MAX_CHAINED_COMMAND = const(1024)

# --- Instructions -----------------------------------------------------------------------------
# Beside each: the card state it needs and what must come before it (docs/PROTOCOL.md section 8
# has the full table). States: FRESH (no key), KEYED (key generated, personalising), READY
# (personalisation locked). SELECT must come first after every reset.

INS_SELECT = const(0xA4)  # CLA 00, P1 04, P2 00 (or 0C: no FCI): any state; first after reset.
INS_GET_RESPONSE = const(0xC0)  # CLA 00: right after a response ending in 61XX.
# SELECT's P1 and P2 (ISO 7816-4, 11.1.1): by DF name (the AID), the first or only occurrence,
# with the FCI or with no response data. The purse is the only application with its AID, so
# "next" or "last" have nothing else to find, and it has no FCP or FMD to give.
SELECT_BY_NAME = const(0x04)
SELECT_FCI = const(0x00)
SELECT_NO_DATA = const(0x0C)

# Provisioning, refused with SW_LOCKED once READY.
INS_GENERATE_KEY = const(0x40)  # FRESH -> KEYED. Before every other provisioning command.
INS_INSTALL_TRUST = const(0x44)  # KEYED; P1 = TRUST_*: PkT, PkI, PkL, after GENERATE_KEY.
INS_INSTALL_CERTIFICATE = const(0x42)  # KEYED; after INSTALL_TRUST of PkT (it checks CertT).
INS_LOCK = const(0x48)  # KEYED -> READY; after certificate, all trust anchors and risk.

# Any state after KEYED unless noted.
INS_INSTALL_RISK = const(0x46)  # After INSTALL_TRUST of PkI; later only a newer sequence.
INS_GET_NONCE = const(0x4C)  # A fresh nonce; before TAKE_TICKET or an embodiment-2 ACCEPT.
INS_TAKE_TICKET = const(0x4E)  # After GET_NONCE: L's ticket for it; advances L-time.
INS_INSTALL_REVOCATION = const(0x4A)  # READY: a newer CA-signed revocation list.
INS_GET_INFO = const(0x50)  # Any state after SELECT.
INS_LOAD_VOUCHER = const(0x52)  # READY: the issuer's value load (VoucherI).
INS_MAKE_CHALLENGE = const(0x54)  # READY, recipient step 1; P1 = seal mode.
INS_PAY = const(0x56)  # READY, payer step 2; a retried challenge gets the same answer.
INS_ACCEPT = const(0x58)  # READY, recipient step 3; after MAKE_CHALLENGE of that ChallID.
INS_TAKE_RECEIPT = const(0x5A)  # READY; after READ_OUTBOX handed the record to L.
INS_READ_OUTBOX = const(0x5C)  # READY; P1 = entry index. Before TAKE_RECEIPT.
INS_READ_JOURNAL = const(0x5E)  # READY; P1 P2 = entry index (the payer's signed payments).
INS_TAKE_STAMP = const(0x60)  # READY: L's stamp, after the journal upload; drops what it holds.
INS_GET_LOG = const(0x62)  # Any state after SELECT, wired link only (never over RF); not cleared.

# Card life-cycle states (GET INFO, TAG_STATE).
STATE_FRESH = const(0)
STATE_KEYED = const(1)
STATE_READY = const(2)

# P1 of INSTALL_TRUST: which trust anchor the 33-byte key is (PkL comes with its log id).
TRUST_CA = const(1)  # PkT
TRUST_ISSUER = const(2)  # PkI
TRUST_LOGGER = const(3)  # PkL, then the log id (LOG_ID_SIZE bytes): the card's one log.

# --- Status words (docs/DESIGN.md section 6) --------------------------------------------------
# Each user-facing refusal has its own word; every cryptographic or integrity failure is
# SW_SECURITY, whatever the detail, which goes to the card's local log instead.

SW_OK = const(0x9000)  # Success.
SW_MORE_DATA = const(0x6100)  # 61XX: XX more bytes wait for GET RESPONSE (00: 256 or more).
SW_WRONG_LENGTH = const(0x6700)  # Lc, Le or a field length is wrong for the command.
SW_LAST_COMMAND_EXPECTED = const(0x6883)  # A chain was cut by another command.
SW_CHAINING_UNSUPPORTED = const(0x6884)  # Chaining where the command allows none.
SW_SECURITY = const(0x6982)  # Signature, seal, certificate, voucher, MAC: all look alike.
SW_WRONG_STATE = const(0x6985)  # Conditions of use not satisfied: command out of order.
SW_LOCKED = const(0x6986)  # Command not allowed: personalisation is locked.
SW_WRONG_DATA = const(0x6A80)  # Malformed TLV body.
SW_NOT_FOUND = const(0x6A82)  # SELECT of an unknown AID; the selection stays as it was.
SW_STORE_FULL = const(0x6A84)  # No room left: pending challenges, outbox or journal.
SW_WRONG_P1P2 = const(0x6A86)  # P1 or P2 not allowed for this command.
SW_NO_MATCH = const(0x6A88)  # Referenced data not found: no such outbox or journal entry.
SW_INS_UNSUPPORTED = const(0x6D00)  # Unknown instruction.
SW_CLA_UNSUPPORTED = const(0x6E00)  # Unknown class byte.
SW_INTERNAL = const(0x6F00)  # Unexpected error in the card; detail in its local log.
# Proprietary refusals of the purse (ISO 7816-4 leaves 9XXX other than 9000 to applications).
SW_FUNDS = const(0x9401)  # Insufficient balance.
SW_LIMIT = const(0x9402)  # Over a risk parameter: per-payment cap, balance cap, unlogged credit.
SW_CHALLENGE_UNKNOWN = const(0x9403)  # ChallID not pending: unknown, expired, or used.
SW_MUST_SYNC = const(0x9404)  # An outbox entry is older than the settlement window.
SW_TICKET = const(0x9405)  # Embodiment 2: ready-ticket missing, stale or for another nonce.
SW_DECLINED = const(0x9406)  # The holder did not confirm the payment.
SW_REVOKED = const(0x9407)  # The peer's certificate is on the revocation list.
SW_JOURNAL_FULL = const(0x9408)  # JOURNAL_MAX payments the logger has not acknowledged: sync.
SW_STALE_PAYER = const(0x9409)  # The payer's stamp is older than the window: it must sync first.

# --- Serial link frames (docs/DESIGN.md section 8) --------------------------------------------

FRAME_COMMAND = const(0x01)  # Host to card: one command APDU.
FRAME_RESPONSE = const(0x02)  # Card to host: one response APDU, same sequence number.
FRAME_PING = const(0x03)  # Host to card: is the link up? Answered by FRAME_PONG.
FRAME_PONG = const(0x04)
FRAME_NAK = const(0x05)  # Card to host: the frame with this sequence number was unreadable.
FRAME_BOARD = const(0x06)  # Host to board glue, not the applet (a tap's arm/listen/receive).
FRAME_TYPES = (FRAME_COMMAND, FRAME_RESPONSE, FRAME_PING, FRAME_PONG, FRAME_NAK, FRAME_BOARD)
# PONG payload a card sends, with sequence number 0, when it (re)starts.
BOOT_NOTICE = b"boot"
# Right after it, and in answer to every plain ping, the card names its board profile: a pong
# of "board " and the name (at most 16 bytes). A ping whose payload begins "done?" is a probe,
# answered once the card has finished what came before it, without ending the session. Those
# two are literals in firmware/link.py and names in icpurse.seriallink, not names here: this
# module's dictionary is full, and one more name would grow it by about a kilobyte of every
# card's heap.
# PING payloads: leave the link for the REPL (honoured only before personalisation), and ask
# for the heap in use and free (answered "ALLOC FREE", MicroPython only).
REPL_ESCAPE = b"icpurse: to the REPL"
MEMORY_QUERY = b"mem?"
# NAK payload for a frame of a type the card does not take: a board frame (FRAME_BOARD) on
# a card without board glue (no PN532), or a response or pong sent to the card.
NAK_UNEXPECTED = b"unexpected frame type"
# Exit statuses of an emulated wallet that the emulators answer by starting it again: an
# emulated power cut at a store operation, and a restart after a fault (where a board
# soft-resets).
EXIT_POWER_CUT = const(3)
EXIT_RESTART = const(4)
# Largest frame payload: one APDU of at most 250 bytes, with room to spare for a NAK reason.
MAX_FRAME_PAYLOAD = const(256)

# --- BER-TLV tags -----------------------------------------------------------------------------
# Records are constructed tags of the application class (0x61-0x7E); their fields are primitive
# tags of the context-specific class (0x80-0x9E) unless they nest a record. The universal class
# is never used, so a decoder refuses it outright. docs/PROTOCOL.md gives every layout.

TAG_CERTIFICATE = const(0x61)  # CertT: CA certificate of a card key.
TAG_VOUCHER = const(0x62)  # VoucherI: issuer value voucher.
TAG_RISK = const(0x63)  # Issuer-signed risk parameters.
TAG_CHALLENGE = const(0x64)  # Recipient's challenge (G1, G2, eC, x, ChallID).
TAG_PAYMENT = const(0x65)  # Payer's answer, carrying S.
TAG_LOG_RECORD = const(0x66)  # Transfer log record sent to the logger.
TAG_RECEIPT = const(0x67)  # Logger receipt.
TAG_TICKET = const(0x68)  # Logger ready-ticket (embodiment 2).
TAG_REVOCATION = const(0x69)  # CA-signed revocation list.
TAG_SIGNED = const(0x70)  # The body of a record: exactly the bytes its signature covers.
TAG_INFO = const(0x71)  # GET INFO answer.
TAG_CHECKPOINT = const(0x6A)  # Logger-signed checkpoint: tree size and root.
TAG_STATEMENT = const(0x6B)  # Logger-signed balance statement of a recovered card.
TAG_STAMP = const(0x6C)  # Logger-signed freshness stamp: IdU, ctrA held, L-time.
TAG_RECIPIENT = const(0x6D)  # In a log record: CertT(B), the certificate of the recipient card.

TAG_DOMAIN = const(0x80)  # Domain-separation string, first field of every body.
TAG_VERSION = const(0x81)  # Protocol version, 1 byte, second field of every body.
TAG_CARD_ID = const(0x82)  # IdU, 8 bytes.
TAG_PUBLIC_KEY = const(0x83)  # PkU, 33-byte compressed SEC1.
TAG_SIGNATURE = const(0x84)  # 64-byte raw r||s, low s.
TAG_AMOUNT = const(0x85)  # x, u32.
TAG_CHALL_ID = const(0x86)  # ChallID, 8 bytes.
TAG_G1 = const(0x87)  # G1 = H(IdUB, R1), 32 bytes.
TAG_G2 = const(0x88)  # G2 = H(PkUB, R2), 32 bytes.
TAG_SEALED = const(0x89)  # eC: the sealed or hashed challenge.
TAG_R1 = const(0x8A)  # 16 bytes.
# 8B was R2's tag until protocol 2, though no record carried R2: protocol 3 gives it to the log
# id, so the card's dict of this module keeps its size (see "Sizes and limits").
TAG_LOG_ID = const(0x8B)  # The log a record belongs to, 8 bytes (docs/PROTOCOL.md 7.7).
TAG_COUNTER = const(0x8C)  # ctrA, the payer counter, u32.
TAG_ISSUED = const(0x8D)  # w, cumulative issued amount, u64.
TAG_SEQUENCE = const(0x8E)  # Sequence number of a voucher, risk parameters or list, u32.
TAG_LTIME = const(0x8F)  # L-time: logger-signed time, u32 seconds.
TAG_NOT_BEFORE = const(0x90)  # u32 seconds of L-time.
TAG_NOT_AFTER = const(0x91)  # u32 seconds of L-time.
TAG_SERIAL = const(0x92)  # Certificate serial number, u32.
TAG_LEAF_INDEX = const(0x93)  # u64.
TAG_TREE_SIZE = const(0x94)  # u64.
TAG_RECORD_HASH = const(0x95)  # H(record) in a receipt, 32 bytes.
TAG_NONCE = const(0x96)  # The card's nonce a ready-ticket binds, 16 bytes.
TAG_SEAL_MODE = const(0x97)  # Challenge seal mode of paragraph [0017], 1 byte.
TAG_BALANCE_CAP = const(0x98)  # u32.
TAG_PAYMENT_CAP = const(0x99)  # u32.
TAG_UNLOGGED_CAP = const(0x9A)  # u32: most credit a card holds whose log has no receipt.
TAG_WINDOW = const(0x9B)  # Settlement window, u32 seconds of L-time.
TAG_RTT = const(0x9C)  # Tap round-trip time, u32 microseconds, filled by the NFC transport.
TAG_BALANCE = const(0x9D)  # u32.
TAG_STATE = const(0x9E)  # Card life-cycle state in GET INFO, 1 byte.
TAG_ROOT = const(0x9F22)  # A Merkle tree root in a checkpoint, 32 bytes.
# Two-byte context-class tags, for fields the single-byte range has no room for.
TAG_OUTBOX_COUNT = const(0x9F20)  # GET INFO: log records waiting for a receipt, u32.
TAG_JOURNAL_COUNT = const(0x9F21)  # GET INFO: signed payments in the journal, u32.
TAG_SUCCESSOR = const(0x9F23)  # Balance statement: IdU of the card that takes over.
TAG_RECIPIENT_SIGNATURE = const(0x9F24)  # In a log record: B's signature over H(record).

# --- Card store -------------------------------------------------------------------------------
# The layout of the card's own state file is private to the card: purse.wallet.state declares
# its tags. docs/PROTOCOL.md section 11 gives the layout. Bounds other modules check:

PENDING_MAX = const(8)  # Pending challenges kept in RAM; the oldest expires first.
# A pending challenge is accepted only this long after it was made, by the recipient's own
# running clock, and never after a restart: a payment withheld longer can no longer be
# credited, so the logger may refund it (section 7.1). It covers the holder's button press
# (wallet_app.BUTTON_SECONDS) and a slow board's PAY.
CHALLENGE_TTL_MS = const(30000)
# The logger's shortest refund delay, twice this lifetime, is the logger's rule: it is
# icpurse.logger.REFUND_DELAY_MIN, off the card.
OUTBOX_MAX = const(16)  # Log records waiting for a receipt.
JOURNAL_MAX = const(16)  # Signed payments not yet acknowledged by a stamp; full: sync first.

# --- Domain separation ------------------------------------------------------------------------
# The first field of every signed body, and the prefix of every protocol hash, so that no
# signature or hash made for one purpose can be presented for another.

DOMAIN_CERTIFICATE = b"icpurse/certificate"
DOMAIN_VOUCHER = b"icpurse/voucher"
DOMAIN_RISK = b"icpurse/risk"
DOMAIN_CHALLENGE = b"icpurse/challenge"
DOMAIN_PAYMENT = b"icpurse/payment"
DOMAIN_RECEIPT = b"icpurse/receipt"
DOMAIN_TICKET = b"icpurse/ticket"
DOMAIN_REVOCATION = b"icpurse/revocation"
DOMAIN_CHECKPOINT = b"icpurse/checkpoint"
DOMAIN_STATEMENT = b"icpurse/statement"
DOMAIN_STAMP = b"icpurse/stamp"
# B signs DOMAIN_RECORD_SIGNATURE || H(record) in ACCEPT: L credits only what a card accepted.
DOMAIN_RECORD_SIGNATURE = b"icpurse/record-signature"
HASH_G1 = b"icpurse/G1"  # G1 = SHA-256(HASH_G1 || IdUB || R1)
HASH_G2 = b"icpurse/G2"  # G2 = SHA-256(HASH_G2 || PkUB || R2)
HASH_CARD_ID = b"icpurse/card-id"  # IdU = first 8 bytes of SHA-256(HASH_CARD_ID || PkU)
HASH_SCRAMBLE = (
    b"icpurse/eC"  # Hash-scrambled eC = SHA-256(HASH_SCRAMBLE || R1 || R2 || x || ChallID)
)
HASH_LOG_RECORD = b"icpurse/log-record"  # H(record) = SHA-256(HASH_LOG_RECORD || record)
# The log id's prefix, "icpurse/log-id", is the one protocol string declared elsewhere: in
# purse.records.checkpoint, which only hosts load (a card never derives a log id).

# --- Sizes and limits -------------------------------------------------------------------------
# Every fixed size of a field, declared once: records, card, host and logger take them from here.
# Each public name costs every card a slot in this module's dict (a board's heap is small, and
# the dict grows by a whole table when full): sizes only this module needs stay private.

U32_SIZE = const(4)  # x, ctrA, L-time, sequences, serials, caps, window, RTT, counts.
U64_SIZE = const(8)  # w, leaf index, tree size.
CARD_ID_SIZE = const(8)
# A log id (section 7.7): 64 bits, since logs are few and only L signs with its key.
LOG_ID_SIZE = const(8)
PUBLIC_KEY_SIZE = const(33)
SIGNATURE_SIZE = const(64)
CHALL_ID_SIZE = const(8)
RANDOM_SIZE = const(16)  # R1, R2 and ticket nonces.
HASH_SIZE = const(32)  # G1, G2, H(record), a Merkle root, the hash-scrambled eC.
# eC of the encrypted mode: Seal_K(R1 || R2 || x || ChallID), 44 bytes sealed with the seal's
# 16-byte tag (purse.crypto.seal.TAG_SIZE; the crypto package imports no proto).
_SEALED_PLAINTEXT_SIZE = const(2 * RANDOM_SIZE + U32_SIZE + CHALL_ID_SIZE)
_SEAL_TAG_SIZE = const(16)
SEALED_SIZE = const(_SEALED_PLAINTEXT_SIZE + _SEAL_TAG_SIZE)  # 60 bytes.
# A payment's key at the logger: its identity PkUA || ChallID || G1, then ctrA. It names a
# payment in journals and settlements, and is the reference of a refund voucher (77 bytes).
PAYMENT_KEY_SIZE = const(PUBLIC_KEY_SIZE + CHALL_ID_SIZE + HASH_SIZE + U32_SIZE)
MAX_AMOUNT = 0xFFFFFFFF  # x, balances and caps are u32 in the smallest unit.
MAX_ISSUED = 0xFFFFFFFFFFFFFFFF  # w is u64: a card's lifetime loads may pass 2**32.
MAX_REVOKED = const(
    90
)  # Card ids in one list: 105 + 10 per id fits one 1024-byte chained command.

# --- Challenge seal modes (paragraph [0017]) ---------------------------------------------------

SEAL_ENCRYPTED = const(1)  # eC = Seal_K(R1 || R2 || x || ChallID); B keeps only ChallID.
SEAL_HASHED = const(2)  # eC = H(R1, R2, x, ChallID); B keeps R1, R2, x, ChallID.
SEAL_SIGNED = const(3)  # Body signed with SkUB and sent with CertT(B): the identified mode.
SEAL_PLAIN = const(4)  # No eC; B keeps the whole challenge.
SEAL_MODES = (SEAL_ENCRYPTED, SEAL_HASHED, SEAL_SIGNED, SEAL_PLAIN)
