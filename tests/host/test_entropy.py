"""Attack 10 of the security review (issue 20): keys made on boards got no host entropy, and a
board's entropy pool started from the same constant at every boot. The host now sends 32 bytes
of its own randomness with GENERATE KEY, and the board keeps a seed file that each boot mixes
into its pool and replaces."""

import sys

from mp_support import FIRMWARE, ROOT

from icpurse.authority import keys
from icpurse.authority.ca import CertificationAuthority
from icpurse.authority.issuer import Issuer
from icpurse.provision import Provisioner
from icpurse.redemption import monotonic_ms
from purse import proto
from purse.apdu import parse_command
from purse.records.logger import Ticket

sys.path.insert(0, str(ROOT / "tests" / "core"))
# The board glue (entropy, cardfs, wallet_app), imported as a board imports it.
sys.path.insert(0, str(FIRMWARE))
import entropy
import wallet_app
from _cards import Rng

from purse.applet import Applet
from purse.store import MemoryBackend, Store
from purse.wallet.card import Card

LTIME = 1795000000


def _provisioner(tmp_path):
    CertificationAuthority.init(tmp_path / "ca")
    Issuer.init(tmp_path / "issuer", tmp_path / "ca" / "ca.pub")
    logger_pub = keys.create(tmp_path / "logger.pem", tmp_path / "logger.pub")
    logger = keys.load_signer(tmp_path / "logger.pem")
    issuer = Issuer.open(tmp_path / "issuer")
    issuer.risk(100000, 20000, 50000, 86400, LTIME - 10, LTIME + 10**6)

    log_id = b"the log."

    def ticket_for(nonce):
        return Ticket(nonce, LTIME, log_id).sign(logger).encode()

    return Provisioner(
        CertificationAuthority.open(tmp_path / "ca"), issuer, logger_pub, ticket_for,
        log_id=log_id,
    )  # fmt: skip


def _listening_card(name):
    """An in-process card whose exchange keeps the data of every GENERATE KEY it is sent."""
    applet = Applet(Card(Store(MemoryBackend()), Rng(name), monotonic_ms))
    received = []

    def exchange(apdu):
        command = parse_command(bytes(apdu))
        if command.cla == proto.CLA_PROPRIETARY and command.ins == proto.INS_GENERATE_KEY:
            received.append(bytes(command.data))
        return applet.process(apdu)

    return exchange, received


def _beside_the_store(directory):
    """The files in the card's directory, outside its store, with their contents."""
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def test_attack_10_provision_sends_host_entropy(tmp_path):
    provisioner = _provisioner(tmp_path)
    a, from_host_a = _listening_card(b"A")
    b, from_host_b = _listening_card(b"B")
    provisioner.personalise(a, ltime=LTIME)
    provisioner.personalise(b, ltime=LTIME)
    assert len(from_host_a) == 1 and len(from_host_a[0]) == 32
    assert len(from_host_b) == 1 and len(from_host_b[0]) == 32
    # Fresh randomness for every card, not a constant.
    assert from_host_a[0] != from_host_b[0]
    # A caller that needs reproducible keys (a test) still chooses the bytes itself.
    c, from_host_c = _listening_card(b"C")
    provisioner.personalise(c, ltime=LTIME, host_entropy=b"\x07" * 32)
    assert from_host_c == [b"\x07" * 32]


def test_attack_10_entropy_pool_persists_across_boots(tmp_path, monkeypatch):
    # The worst board: os.urandom gives nothing and the timer reads the same at every boot.
    monkeypatch.setattr(entropy, "_urandom", lambda n: bytes(n))
    monkeypatch.setattr(entropy, "_ticks", lambda: 1234)
    monkeypatch.chdir(tmp_path)
    config = {"state": "card"}
    first = wallet_app.build_card(config).rng(32)
    after_first = _beside_the_store(tmp_path)
    second = wallet_app.build_card(config).rng(32)
    after_second = _beside_the_store(tmp_path)
    assert first != second
    # The stored seed changed with the boot. It lives beside the store, not in it, so the
    # store's garbage collection (at every boot, of whatever the card state does not
    # reference) never removes it.
    assert entropy.SEED_FILE in after_second
    assert after_first[entropy.SEED_FILE] != after_second[entropy.SEED_FILE]
    assert entropy.SEED_FILE not in {p.name for p in (tmp_path / "card").iterdir()}


def test_a_fixed_seed_stays_reproducible_and_writes_no_seed_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = {"state": "card", "seed": "00112233"}
    first = wallet_app.build_card(config).rng(64)
    second = wallet_app.build_card(config).rng(64)
    assert first == second == entropy.Entropy(bytes.fromhex("00112233"))(64)
    # Nothing is stored beside the store: a seed file would change nothing, so none is kept.
    assert _beside_the_store(tmp_path) == {}
