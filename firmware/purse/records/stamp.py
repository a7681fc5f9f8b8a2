"""The logger's freshness stamp: SkL(log id, IdU, ctrA, L-time), docs/PROTOCOL.md section 7.0.

L signs it at a card's sync, once it holds every payment the card signed up to ctrA, and never
for a revoked or closed card. The card drops the journal entries it covers, and shows it in
every payment; a recipient refuses a payer whose stamp is older than its settlement window.
Apart from purse.records.logger so that a paying card does not load receipts and tickets.
"""

from purse import proto
from purse.compat import host_only
from purse.records import fields as f
from purse.records.signed import Signed


class Stamp(Signed):
    TAG = proto.TAG_STAMP
    DOMAIN = proto.DOMAIN_STAMP
    LOGGED = True
    FIELDS = (
        (proto.TAG_CARD_ID, proto.CARD_ID_SIZE, proto.CARD_ID_SIZE, 0),
        (proto.TAG_COUNTER, proto.U32_SIZE, proto.U32_SIZE, 0),
        (proto.TAG_LTIME, proto.U32_SIZE, proto.U32_SIZE, 0),
    )

    def __init__(self, card_id=None, counter=0, ltime=0, log_id=None):
        Signed.__init__(self)
        self._log_id = log_id
        self.card_id = card_id
        self.counter = counter
        self.ltime = ltime

    @host_only
    def items(self):
        return [
            (proto.TAG_CARD_ID, self.card_id),
            (proto.TAG_COUNTER, f.u32(self.counter)),
            (proto.TAG_LTIME, f.u32(self.ltime)),
        ]

    def load(self, fields, outer):
        self.card_id = bytes(fields[proto.TAG_CARD_ID])
        self.counter = f.uint(fields[proto.TAG_COUNTER])
        self.ltime = f.uint(fields[proto.TAG_LTIME])
