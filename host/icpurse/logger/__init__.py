"""The third-party logger L: its HTTP API (api/), its rules (service/), all of its SQL
(storage/), what a client needs (client/), and the Merkle tree, worker processes, signers,
verifiers and sequencer they share."""

# The settlement window (docs/PROTOCOL.md section 7.1): how long, in seconds of L-time, a
# payment may stay unlogged before it is refunded, and a revoked card's late logs still count.
# A new log database gets a day unless `logger serve --window` says otherwise. It is kept in
# this module, which imports nothing, because the command line's help shows it.
DEFAULT_WINDOW = 86400
# The logger refunds a payment no earlier than this many seconds of L-time after it first saw
# it, whatever its window: twice a challenge's lifetime (purse.proto.CHALLENGE_TTL_MS), a margin
# for the recipient's clock running slow and for the logger's clock. Kept off the card, which
# never refunds, since each name of purse.proto costs every card a slot in its dict.
REFUND_DELAY_MIN = 60
