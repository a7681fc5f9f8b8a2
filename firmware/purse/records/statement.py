"""The logger's signed balance statement of a recovered card. Host and logger code only: cards
never import it.

When a damaged or lost card is recovered (docs/PROTOCOL.md section 7.2), the logger closes
its ledger after the settlement window and signs what the card held — issued + logged credits
- logged payments — and which card takes the balance over. The issuer loads the successor
with a voucher for exactly that balance; anyone holding PkL can check the statement later.
"""

from purse import proto
from purse.records import fields as f
from purse.records.signed import Signed


class BalanceStatement(Signed):
    """SkL(log id, IdU, PkU, successor IdU, balance, tree size, L-time)."""

    TAG = proto.TAG_STATEMENT
    DOMAIN = proto.DOMAIN_STATEMENT
    LOGGED = True
    FIELDS = (
        (proto.TAG_CARD_ID, proto.CARD_ID_SIZE, proto.CARD_ID_SIZE, 0),
        (proto.TAG_PUBLIC_KEY, proto.PUBLIC_KEY_SIZE, proto.PUBLIC_KEY_SIZE, 0),
        (proto.TAG_SUCCESSOR, proto.CARD_ID_SIZE, proto.CARD_ID_SIZE, 0),
        (proto.TAG_BALANCE, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_TREE_SIZE, proto.U64_SIZE, proto.U64_SIZE, 0),
        (proto.TAG_LTIME, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(self, card_id=None, public_key=None, successor=None, balance=0, tree_size=0,
                 ltime=0, log_id=None):  # fmt: skip
        Signed.__init__(self)
        self._log_id = log_id
        self.card_id = card_id
        self.public_key = public_key
        self.successor = successor
        self.balance = balance
        self.tree_size = tree_size
        self.ltime = ltime

    def items(self):
        return [
            (proto.TAG_CARD_ID, self.card_id),
            (proto.TAG_PUBLIC_KEY, self.public_key),
            (proto.TAG_SUCCESSOR, self.successor),
            (proto.TAG_BALANCE, f.u32(self.balance)),
            (proto.TAG_TREE_SIZE, f.u64(self.tree_size)),
            (proto.TAG_LTIME, f.u32(self.ltime)),
        ]

    def load(self, fields, outer):
        self.card_id = bytes(fields[proto.TAG_CARD_ID])
        self.public_key = bytes(fields[proto.TAG_PUBLIC_KEY])
        self.successor = bytes(fields[proto.TAG_SUCCESSOR])
        self.balance = f.uint(fields[proto.TAG_BALANCE])
        self.tree_size = f.uint(fields[proto.TAG_TREE_SIZE])
        self.ltime = f.uint(fields[proto.TAG_LTIME])
