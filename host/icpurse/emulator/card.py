"""EmulatedCard: a context manager that starts `icpurse emulate` in its own process, waits until
the card answers on its pty, fails fast if the process dies, and stops it afterwards.

    with EmulatedCard(tmp_path / "a", runtime="micropython") as card:
        card.client.select()          # purse.client.CardClient over the serial link
        card.state_dir                # the card's directory (config.json, card/ store)
"""

import subprocess
import sys
import time
from pathlib import Path

from icpurse.emulator.child import Child
from icpurse.seriallink import LinkError, SerialLink
from purse.client import CardClient


class EmulatorError(Exception):
    """The emulated card did not start or died."""


class EmulatedCard(Child):
    def __init__(self, state_dir, runtime="cpython", heap=None, seed=None, cut_at=None,
                 faults=None, timeout=30.0, link_timeout=None, nfc_device=None,
                 nfc=None, memory_at=None, board=None, profile=None):  # fmt: skip
        self.state_dir = Path(state_dir)
        self.runtime = runtime
        self.heap = heap
        self.seed = seed
        self.cut_at = cut_at
        self.memory_at = memory_at
        # A board profile whose speed and memory settings the card boots with (runtime.
        # PROFILE_SETTINGS); None: the emulator's own, those of the Unix port's profile.
        self.profile = profile
        self.faults = faults or {}
        self.nfc_device = nfc_device
        self.nfc = nfc
        self.timeout = timeout
        # None: the link waits as the board profile the card names says (icpurse.timeouts).
        self.link_timeout = link_timeout
        self.board = board
        self.process = None
        self.port = None
        self.link = None
        self.client = None

    def _command(self):
        cmd = [sys.executable, "-m", "icpurse", "emulate", "--state", str(self.state_dir),
               "--runtime", self.runtime]  # fmt: skip
        if self.heap:
            cmd += ["--heap", self.heap]
        if self.seed is not None:
            cmd += ["--seed", self.seed]
        if self.cut_at is not None:
            cmd += ["--cut-at", str(self.cut_at)]
        if self.memory_at is not None:
            cmd += ["--memory-error-at", str(self.memory_at)]
        if self.profile is not None:
            cmd += ["--profile", self.profile]
        if self.nfc_device is not None:
            cmd += ["--nfc-device", str(self.nfc_device)]
        if self.nfc is not None:
            cmd += ["--nfc", str(self.nfc)]
        if self.board is not None:
            cmd += ["--board", self.board]
        for name, value in sorted(self.faults.items()):
            cmd += ["--%s" % name.replace("_", "-"), str(value)]
        return cmd

    def start(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.state_dir / "emulator.log", "ab")
        self.process = subprocess.Popen(
            self._command(), stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        line = self.process.stdout.readline()
        if not line.startswith("card on "):
            self.stop()
            log = self.state_dir / "emulator.log"
            raise EmulatorError(
                "the emulator did not start: %s (see %s)" % (line.strip() or "no output", log)
            )
        self.port = line.split()[2]
        deadline = time.monotonic() + self.timeout
        while True:
            if self.process.poll() is not None:
                raise EmulatorError("the emulated card exited with %d" % self.process.returncode)
            try:
                self.link = SerialLink(self.port, timeout=self.link_timeout)
                self.link.ping()
                break
            except LinkError as exc:
                if self.link is not None:
                    self.link.close()
                    self.link = None
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmulatorError("the emulated card did not answer: %s" % exc) from None
        self.client = CardClient(self.link.exchange)
        return self

    def stop(self):
        if self.link is not None:
            self.link.close()
            self.link = None
        self.stop_child()
