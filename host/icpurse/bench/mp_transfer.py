"""Two provisioned cards in one MicroPython process, run up to a given step, for callgrind.

`icpurse bench transfer --instructions` runs this file under valgrind once per prefix of the
exchange and subtracts the totals (icpurse.bench.instructions):
    micropython -X heapsize=H mp_transfer.py FIRMWARE STATE_A STATE_B MODE UPTO [A P C L [T]]
FIRMWARE is the firmware as a board holds it (compiled by mpy-cross); STATE_A and STATE_B are
the directories of two cards the host has provisioned already (their stores, in card/, with
the anchors' tables the profile asks for), so nothing an authority signs is made here; A, P, C
and L are the board profile's anchor_spans, peer_spans, collect_early and preload (1 or 0),
and T its lean_tables (1 or 0).
Each command goes through the card's link as on a board (frames, a collection before each
command unless the profile says otherwise), with the terminal's side of the link and of the
APDUs (purse.client) in the same process: a small part of each count. The steps, in order
(STEPS):
    start       the interpreter, this script compiled and its arguments read; nothing else
    boot        card A boots as wallet_app.main does: the wallet's imports, the generator's
                tables, the card state from its store, the applet and its link; SELECT
    ready       card B the same (the imports and tables are the process's already)
    challenge   B: MAKE CHALLENGE in seal mode MODE       (the first transfer, A to B)
    pay         A: PAY
    accept      B: ACCEPT
    challenge2, pay2, accept2                            (the second: A is a repeat payer)
It prints one line, "done UPTO FMULS NMULS INVERSIONS" (purse.crypto.p256.counters(), zeros
before the core is imported, "-" where the core has no counters), last. Everything that could
differ from run to run is fixed: the cards' entropy is seeded and their clock stands still,
so a commit gives the same counts every time. It runs without valgrind too (a quick check),
and must stay MicroPython-compatible: no f-strings, no CPython-only modules.
"""

import sys

STEPS = ("start", "boot", "ready", "challenge", "pay", "accept", "challenge2", "pay2", "accept2")
AMOUNT = 100


def _clock():
    """The card's running clock, standing still: under valgrind a step takes seconds, and a
    pending challenge's lifetime must not run out between MAKE CHALLENGE and ACCEPT."""
    return 0


class _Wire:
    """The card's end of the link as a board serves it (link.CardLink: frames read 64 bytes at
    a time, deframed, checked, a collection before each command, the answer framed), fed one
    command frame at a time by the terminal's end, which is this process too."""

    def __init__(self, applet):
        from link import CardLink

        from purse import frame

        self.frame = frame
        self.inbox = b""
        self.outbox = []
        try:
            self.link = CardLink(
                self._read, self.outbox.append, applet, None, None,
                PROFILE.get("collect_early", True),
            )  # fmt: skip
        except TypeError:
            self.link = CardLink(self._read, self.outbox.append, applet)  # The baseline's.
        self.deframer = frame.Deframer()
        self.seq = 0

    def _read(self, n):
        data = self.inbox[:n]
        self.inbox = self.inbox[n:]
        return data

    def exchange(self, command):
        from purse import proto

        self.seq = (self.seq + 1) & 0xFF
        self.inbox = self.frame.encode_frame(proto.FRAME_COMMAND, self.seq, command)
        self.link.serve()  # Returns at the end of the input: the frame is answered.
        answer = b"".join(self.outbox)
        del self.outbox[:]
        for raw in self.deframer.feed(answer):
            return bytes(self.frame.decode_frame(raw)[2])
        raise RuntimeError("the card did not answer")


# The board profile's speed settings (firmware/boards/*.json), from the command line.
PROFILE = {}


def _boot(wallet_app, state, seed):
    """What wallet_app.main does before it serves the link; keep the two in step."""
    from purse.applet import Applet
    from purse.client import CardClient
    from purse.crypto import tables

    lean = getattr(tables, "lean", None)
    if lean is not None:  # The baseline's tables had one shape.
        lean(PROFILE.get("lean_tables", False))
    tables.generator_comb()
    tables.generator_wnaf()
    wallet_app.RunningClock = lambda: _clock
    config = {"state": state + "/card", "seed": seed}
    config.update(PROFILE)
    card = wallet_app.build_card(config)
    preload = getattr(wallet_app, "_preload", None)
    if preload is not None:
        preload(config)
    collect = getattr(wallet_app, "_collect_early", None)
    if collect is not None:
        try:
            collect(config)
        except TypeError:
            collect()  # The baseline's wallet, whose profile had no say in it.
    client = CardClient(_Wire(Applet(card)).exchange)
    client.select()
    return client


def _counters():
    p256 = sys.modules.get("purse.crypto.p256")
    if p256 is None:
        return "0 0 0"  # Not imported (the "start" prefix): nothing multiplied yet.
    counters = getattr(p256, "counters", None)
    if counters is None:
        return "- - -"  # A core without the counters.
    return " ".join(str(n) for n in counters())


def run(firmware, state_a, state_b, mode, upto):
    last = STEPS.index(upto)
    if last >= 1:
        sys.path.insert(0, firmware)
        import wallet_app

        a = _boot(wallet_app, state_a, "a1")
    if last >= 2:
        b = _boot(wallet_app, state_b, "b1")
    step = 3
    while step + 2 < len(STEPS) and last >= step:
        challenge = b.make_challenge(AMOUNT, mode)
        if last >= step + 1:
            payment = a.pay(challenge)
        if last >= step + 2:
            b.accept(challenge, payment)
        step += 3
    print("done %s %s" % (upto, _counters()))


if __name__ == "__main__":
    # Optional: ANCHOR_SPANS PEER_SPANS COLLECT_EARLY PRELOAD LEAN_TABLES (1 or 0), the
    # profile's.
    if len(sys.argv) > 8:
        PROFILE["anchor_spans"] = int(sys.argv[6])
        PROFILE["peer_spans"] = int(sys.argv[7])
        PROFILE["collect_early"] = sys.argv[8] == "1"
    if len(sys.argv) > 9:
        PROFILE["preload"] = sys.argv[9] == "1"
    if len(sys.argv) > 10:
        PROFILE["lean_tables"] = sys.argv[10] == "1"
    run(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
