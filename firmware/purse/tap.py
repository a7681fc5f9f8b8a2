"""A tap: two wallets held together and the money moves, with no host in between.

The recipient's board is the reader (its PN532 an initiator) and runs the whole exchange of
docs/DESIGN.md section 2 itself: it activates the payer's card, SELECTs the payer's applet over the
RF link, makes the challenge with its own applet, has the payer PAY (long responses come back
through 61XX and GET RESPONSE), and ACCEPTs — queueing the log record for its next sync. The
payer's board is the card (its PN532 a target emulating an ISO 14443-4 card): it hands each
APDU to its applet. A payment needs its holder's confirmation, and a press cannot fit inside
one ISO 14443-4 exchange, so the holder arms the amount with the button before the tap (or the
board confirms amounts up to a configured limit): `Armed` is that confirmation.

Every APDU's round trip is timed; the slowest goes into the log record (tag 9C), and a tap
whose APDU takes longer than `rtt_limit_us` is stopped. That limit is a timeout, **not** a
defence against relay attacks: a relay that answers in time is not caught, and the protocol's
guarantees never depended on the RF link (the terminal is untrusted anyway).

Whatever breaks mid-tap leaves each card in a state of its own store's rules: a payment the
payer debited but whose PAY answer never reached the reader is in the payer's journal, in
doubt, and is settled by the reconciliation of docs/PROTOCOL.md section 7.1.
"""

from purse import proto
from purse.client import CardClient
from purse.errors import PurseError
from purse.pn532 import STATUS_RELEASED, PN532Error, StatusError, Timeout


class TapError(PurseError):
    """The tap did not complete; the message says at which step."""


class Armed:
    """The holder's confirmation of the next payment: `arm(x)` by the button before the tap,
    or, without the button, amounts up to `auto_limit`. A card's `confirm(x, recipient)` calls
    it.

    Automatic confirmation has a budget: what it confirmed since the last press adds up, and a
    payment that would take the sum past `auto_cap` (default twice `auto_limit`) needs the
    button, so a rogue reader in the field cannot take `auto_limit` again and again. A press
    (`arm`) starts a new sum. An armed amount lapses after `expiry_ms` (default 60 s) on the
    running clock `ticks_ms`/`ticks_diff` (MicroPython's time.ticks_ms and time.ticks_diff on a
    board, which wrap around), so a press long forgotten does not pay the next reader. The core
    reads no clock itself: the board passes its own, and a test a fake one. Without a clock an
    armed amount cannot lapse; only tests of the exchange itself leave it out.

    A reader in the field may make up challenges, so two more rules: a payment of another
    amount than the armed one drops it (one press, one try: a bystander trying amounts until
    one is paid gets one guess), and automatic confirmation takes at most AUTO_COUNT payments
    between presses (a bystander's payments of 1 would otherwise fill the journal, 16
    payments, and stop the holder's own until a sync). `admits(x)` answers before the card
    checks anything else (purse.wallet.payer), so that a payment the holder did not approve
    is refused alike whatever the balance, limits or sync state: made-up amounts do not find
    the balance.
    """

    EXPIRY_MS = 60000
    AUTO_COUNT = 4

    def __init__(
        self, auto_limit=0, auto_cap=None, expiry_ms=None, ticks_ms=None, ticks_diff=None
    ):
        self.auto_limit = auto_limit
        # None follows auto_limit, which a board or a test may change after construction.
        self.auto_cap = auto_cap
        self.expiry_ms = self.EXPIRY_MS if expiry_ms is None else expiry_ms
        self.ticks_ms = ticks_ms
        self.ticks_diff = ticks_diff
        self.amount = None
        self.armed_at = None
        self.auto_confirmed = 0
        self.auto_times = 0

    def arm(self, amount):
        self.amount = amount
        self.armed_at = None if self.ticks_ms is None else self.ticks_ms()
        # The press is the holder's presence: automatic confirmation gets a fresh budget.
        self.auto_confirmed = 0
        self.auto_times = 0

    def _lapsed(self):
        if self.armed_at is None or self.ticks_ms is None:
            return False
        return self.ticks_diff(self.ticks_ms(), self.armed_at) > self.expiry_ms

    def admits(self, x):
        """Whether a payment of x would be confirmed, without confirming it. An armed amount
        that lapsed, or that x is not, is dropped here: one press, one try."""
        if self.amount is not None and (x != self.amount or self._lapsed()):
            self.amount = None
        return self.amount is not None or self._automatic(x)

    def _automatic(self, x):
        cap = 2 * self.auto_limit if self.auto_cap is None else self.auto_cap
        return (
            x <= self.auto_limit
            and self.auto_confirmed + x <= cap
            and self.auto_times < self.AUTO_COUNT
        )

    def __call__(self, x, recipient):
        if self.admits(x) and self.amount is not None:
            self.amount = None  # One press, one payment.
            return True
        if self._automatic(x):
            self.auto_confirmed += x
            self.auto_times += 1
            return True
        return False


# The slowest APDU round trip a tap allows, in microseconds, by seal mode (docs/PROTOCOL.md
# section 7.5). In every mode PAY signs once: 0.16-0.28 s estimated on an ESP32-S3, 0.4-0.8 s
# on an RP2040 (`icpurse bench transfer --instructions`). In the signed mode it also verifies the
# recipient's certificate and its signature on the challenge: 0.7-1.2 s on an ESP32-S3 for a
# recipient met for the first time, up to 3.3 s on a classic ESP32 at 160 MHz. The limit is a
# timeout that ends a tap gone wrong, not a defence against relays, so a mode whose PAY is
# slower gets a longer one.
RTT_LIMIT_US = 1000000
RTT_LIMIT_SIGNED_US = 4000000


def receive(reader, own, amount, ticks_us, ticks_diff, mode=proto.SEAL_ENCRYPTED,
            rtt_limit_us=None, timeout_ms=None, card_wait_ms=10000):  # fmt: skip
    """The reader's side: take `amount` from the card in the field into `own` (a CardClient of
    this board's applet), waiting up to `card_wait_ms` for a card. Returns (the amount this
    board's card credited, its new balance, slowest APDU round trip in microseconds).
    `rtt_limit_us` defaults to the mode's (RTT_LIMIT_US, RTT_LIMIT_SIGNED_US), and the chip's
    wait for each answer (`timeout_ms`) to half a second beyond it."""
    if rtt_limit_us is None:
        rtt_limit_us = RTT_LIMIT_SIGNED_US if mode == proto.SEAL_SIGNED else RTT_LIMIT_US
    if timeout_ms is None:
        timeout_ms = rtt_limit_us // 1000 + 500
    try:
        found = reader.list_target(card_wait_ms)
    except Timeout:
        found = None
    if found is None:
        raise TapError("no card in the field")
    target = found[0]
    slowest = [0]

    def exchange(apdu):
        start = ticks_us()
        try:
            response = reader.exchange(target, apdu, timeout_ms)
        except PN532Error as exc:
            raise TapError("the RF link failed: %s" % exc) from None
        rtt = ticks_diff(ticks_us(), start)
        if rtt > slowest[0]:
            slowest[0] = rtt
        if rtt > rtt_limit_us:
            raise TapError("an APDU took %d us, over the limit of %d us" % (rtt, rtt_limit_us))
        return response

    payer = CardClient(exchange)
    try:
        payer.select()
        challenge = own.make_challenge(amount, mode)
        payment = payer.pay(challenge)
        # The payment must answer the challenge just made (client.WrongPayment otherwise):
        # a payer must not slip in a payment it withheld from an earlier tap.
        credited, balance = own.accept(challenge, payment, rtt=slowest[0])
    finally:
        try:
            reader.release(target)
        except PN532Error:
            pass  # The card is gone already: nothing left to release.
    return credited, balance, slowest[0]


def serve(chip, applet, uid3, timeout_ms=30000, data_timeout_ms=5000):
    """The card's side: wait for a reader, then answer each APDU with the applet's
    process_remote until the reader releases the card. Returns the APDUs served.

    The reader gets a session of its own (Applet.swap_session): nothing selected, no chain or
    response of an earlier reader's, or of the wired link's, which gets its own back after."""
    wired = applet.swap_session()
    try:
        chip.init_as_target(uid3, timeout_ms)
        served = 0
        while True:
            try:
                apdu = chip.get_data(data_timeout_ms)
            except StatusError as exc:
                if exc.code == STATUS_RELEASED:
                    return served
                raise
            chip.set_data(applet.process_remote(apdu))
            served += 1
    finally:
        applet.swap_session(wired)
