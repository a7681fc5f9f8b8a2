"""A whole deployment for end-to-end tests: the CA and the issuer in their directories, a real
`icpurse logger serve` process with a short settlement window, and emulated cards provisioned
over their serial links. Tests drive it through the `icpurse` command line, as an operator
would, and through the same library calls the commands use.
"""

import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from icpurse.authority import keys
from icpurse.authority.ca import CertificationAuthority
from icpurse.authority.issuer import Issuer
from icpurse.emulator.card import EmulatedCard
from icpurse.logger import REFUND_DELAY_MIN
from icpurse.logger.client import LoggerClient
from icpurse.logger.process import LoggerProcess
from icpurse.provision import Provisioner
from icpurse.seriallink import SerialLink
from purse.client import CardClient

# Seconds of L-time: long enough for a sync to land inside it, short enough to wait out.
WINDOW = 2


def icpurse(*args, env=None):
    """Run the `icpurse` command line as a user would; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "icpurse", *map(str, args)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


class Bank:
    def __init__(self, tmp_path, window=WINDOW, operator=False):
        """`operator`: also create an operator's key (`operator_key`, its PEM file), which the
        logger is given as `logger serve --operator` and the client signs operator reads with."""
        self.tmp = Path(tmp_path)
        self.stack = ExitStack()
        self.window = window
        CertificationAuthority.init(self.tmp / "ca")
        Issuer.init(self.tmp / "issuer", self.tmp / "ca" / "ca.pub")
        self.ca = CertificationAuthority.open(self.tmp / "ca")
        self.issuer = Issuer.open(self.tmp / "issuer")
        now = int(time.time())
        self.issuer.risk(100000, 20000, 50000, 7 * 86400, now - 86400, now + 365 * 86400)
        logs = self.tmp / "logger"
        logs.mkdir()
        self.logger_key = keys.create(logs / "logger.pem", str(logs / "logger.pem") + ".pub")
        self.db = logs / "log.db"
        signers = {"issuer": self.issuer.signer, "ca": self.ca.signer}
        self.operator_key = None
        if operator:
            self.operator_key = self.tmp / "operator.pem"
            keys.create(self.operator_key, str(self.operator_key) + ".pub")
            signers["operator"] = keys.load_signer(self.operator_key)
        self.server = self.logger_process(self.db)
        self.logger = LoggerClient(self.server.url, self.logger_key, signers=signers)
        self.stack.callback(self.logger.close)
        self.provisioner = Provisioner(
            self.ca, self.issuer, self.logger_key, self.logger.ticket, self.logger.publish_voucher,
            self.logger.stamp, log_id=self.logger.log_id(),
        )  # fmt: skip

    def logger_process(self, db):
        extra = []
        if self.operator_key is not None:
            extra = ["--operator", str(self.operator_key) + ".pub"]
        server = LoggerProcess(
            self.tmp / "logger", "sqlite:///%s" % db, self.ca.signer.public_key,
            self.issuer.signer.public_key, window=self.window, extra=extra,
        )  # fmt: skip
        self.stack.enter_context(server)
        return server

    def card(self, name, amount=0, runtime="cpython", provision=True, **options):
        card = EmulatedCard(self.tmp / name, runtime=runtime, seed=name.encode().hex(), **options)
        self.stack.enter_context(card)
        if provision:
            info = self.provisioner.personalise(card.link.exchange, amount)
            card.card_id = info.card_id
        return card

    def clone(self, card, name):
        """A second card holding a copy of `card`'s stored state (the attack on a board that
        is not a secure element)."""
        target = self.tmp / name
        shutil.copytree(card.state_dir / "card", target / "card")
        clone = EmulatedCard(target, runtime=card.runtime, seed=name.encode().hex())
        self.stack.enter_context(clone)
        clone.client.select()
        clone.card_id = card.card_id
        return clone

    def destroy(self, card):
        """The card is lost or broken: its process stops and its state is gone."""
        card.stop()
        shutil.rmtree(card.state_dir)

    def cli(self, *args, card=None, env=None):
        """Run `icpurse ARGS...`; with `card`, its link is closed for the command (a port opens
        exclusively) and opened again afterwards."""
        if card is not None:
            card.link.close()
        try:
            return icpurse(*args, env=env)
        finally:
            if card is not None:
                self.attach(card)

    def attach(self, card):
        """Open the test's link to `card` again after a command had its port."""
        card.link = SerialLink(card.port, timeout=card.link_timeout)
        card.client = CardClient(card.link.exchange)
        card.client.select()

    def logger_args(self):
        return ("--logger", self.server.url, "--logger-key", self.logger_key.hex())

    def sync(self, card):
        return self.cli("sync", card.port, *self.logger_args(), card=card)

    def wait_window(self):
        """Wait until the logger may settle what it saw before: its window, and never less
        than the refund delay that outlasts every pending challenge."""
        time.sleep(max(self.window, REFUND_DELAY_MIN) + 1.2)

    def close(self):
        self.stack.close()
        self.issuer.conn.close()
        self.ca.conn.close()
