"""A simulated PN532 (emulator.pn532sim) behind a pseudo-terminal: what an emulated board with
`--nfc-device PATH` opens as its PN532's UART (HSU). A thread splits the board's byte stream
into frames for the chip (the wake-up preamble skipped) and writes the chip's frames back as
soon as it offers them. Two PtyChips in one Field are two boards held together."""

import os
import select
import threading
import tty

from icpurse.emulator.pn532sim import SimulatedPN532
from purse import pn532


def split_frames(buffer):
    """(frames, rest) of an HSU byte stream: each frame from its 00 FF start to its end."""
    frames = []
    while True:
        bounds = pn532.frame_bounds(buffer)
        if bounds is None:
            return frames, buffer
        start, end = bounds
        frames.append(b"\x00" + buffer[start:end])
        buffer = buffer[end:]


class PtyChip:
    def __init__(self, field, faults=None):
        self.chip = SimulatedPN532(field, faults)
        self.master, self._slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        buffer = b""
        while not self._stop:
            ready, _, _ = select.select([self.master], [], [], 0.005)
            if ready:
                try:
                    buffer += os.read(self.master, 4096)
                except OSError:
                    return
                frames, buffer = split_frames(buffer)
                for frame in frames:
                    self.chip.write(frame)
            while self.chip.wait_ready(0):
                os.write(self.master, self.chip.read(1024))

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.chip.leave()
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
