"""Host timeouts that fit the board (issue 23): the card names its board profile at boot and in
every ping's answer, the host's link waits as long as that board needs for each class of
command, and a slow card is probed, never sent its command again while it may still be running
it. Emulated cards over real ptys (icpurse emulate, with --slow holding an answer as a slow
board would), the `icpurse` command line in this process, and fake cards on a bare pty that
send what a broken or hostile card might."""

import json
import os
import re
import threading
import time
import tty

import pytest
from emulated import Cards
from mp_support import ROOT

from icpurse import firmware_files, flash, timeouts
from icpurse.cli import main
from icpurse.emulator.card import EmulatedCard
from icpurse.seriallink import LINK_PROBE, LinkError, SerialLink
from icpurse.terminal import transfer
from purse import frame, proto, reader

SELECT = reader.build_command(proto.CLA_ISO, proto.INS_SELECT, 4, 0, proto.AID)


def _written(link):
    """Every frame the link writes to its port, decoded, in order: what the card receives."""
    frames = []
    write = link.serial.write

    def spy(data):
        frames.extend(frame.decode_frame(raw) for raw in frame.Deframer().feed(data))
        return write(data)

    link.serial.write = spy
    return frames


def _heard(link):
    """Every frame the link reads from its port, decoded, in order."""
    frames = []
    feed = link._deframer.feed

    def spy(data):
        raws = feed(data)
        for raw in raws:
            try:
                frames.append(frame.decode_frame(raw))
            except Exception:  # noqa: BLE001, S112 - a bad frame is the link's to skip.
                continue
        return raws

    link._deframer.feed = spy
    return frames


def _commands(frames):
    return [f for f in frames if f[0] == proto.FRAME_COMMAND]


# --- the table ----------------------------------------------------------------------------------


def test_every_board_profile_is_named_known_and_told_apart_by_flash():
    names = firmware_files.boards()
    assert "esp32c3" in names  # The bench's board table has the ESP32-C3: so do the profiles.
    for name in names:
        config = json.loads((firmware_files.boards_dir() / ("%s.json" % name)).read_text())
        assert config["board"] == name
        assert timeouts.parse_name(name.encode()) == name
        assert timeouts.known(name), "%s has no row in icpurse.timeouts" % name
    # `icpurse flash` without --board tells each profile from the board's MicroPython.
    assert {board for _, board in flash.MACHINES} == set(names)
    for machine, board in (
        ("Generic ESP32 module with ESP32", "esp32"),
        ("Generic ESP32S3 module with ESP32S3", "esp32s3"),
        ("Arduino Nano ESP32 with ESP32-S3", "esp32s3"),
        ("ESP32C3 module with ESP32C3", "esp32c3"),
        ("LOLIN_C3_MINI with ESP32-C3", "esp32c3"),
        ("Raspberry Pi Pico with RP2040", "pico"),
        ("Raspberry Pi Pico W with RP2040", "picow"),
        ("Raspberry Pi Pico2 with RP2350", "pico2"),
        ("linux [GCC 12.2.0] version", "unix"),
    ):
        assert flash.board_of(machine) == board, machine


def test_the_timeouts_follow_the_estimates_and_the_documented_table():
    # Twice the estimated time of the class's slowest command, in half seconds, at least 3 s.
    for board, rate in timeouts.RATES.items():
        for cls, wait in timeouts.for_board(board).items():
            estimate = timeouts.INSTRUCTIONS[cls] / rate
            assert wait >= 2 * estimate and wait >= 3.0 and wait * 2 == int(wait * 2)
            assert wait - 2 * estimate < 0.5 or wait == 3.0
    # Nothing unknown waits less than any known board does.
    assert timeouts.for_board("esp8266") == timeouts.for_board(None) == timeouts.for_board("")
    for row in timeouts.TIMEOUTS.values():
        assert all(u >= w for u, w in zip(timeouts.UNKNOWN, row))
    # docs/HARDWARE.md gives the same table.
    text = (ROOT / "docs" / "HARDWARE.md").read_text()
    section = text.split("## Host timeouts", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in section.splitlines():
        match = re.match(r"\| `?([a-z0-9]+|unknown[^|]*?)`? \|((?: [0-9.]+ \|){4})", line)
        if match:
            row = tuple(float(cell) for cell in match[2].strip(" |").split(" | "))
            documented["unknown" if match[1].startswith("unknown") else match[1]] = row
    expected = dict(timeouts.TIMEOUTS, unknown=timeouts.UNKNOWN)
    assert documented == expected


def test_each_command_has_its_class():
    def cls(ins, cla=proto.CLA_PROPRIETARY):
        return timeouts.command_class(reader.build_command(cla, ins, 0, 0, b"\x01"))

    assert cls(proto.INS_ACCEPT) == timeouts.ACCEPT
    assert cls(proto.INS_PAY) == timeouts.PAY
    for ins in (proto.INS_GENERATE_KEY, proto.INS_INSTALL_TRUST, proto.INS_LOAD_VOUCHER,
                proto.INS_MAKE_CHALLENGE, proto.INS_TAKE_STAMP):  # fmt: skip
        assert cls(ins) == timeouts.CRYPTO
    for ins in (proto.INS_SELECT, proto.INS_GET_INFO, proto.INS_READ_OUTBOX, proto.INS_LOCK):
        assert cls(ins) == timeouts.FAST
    # A chain's first parts are only stored by the card: only the last one does the work.
    assert cls(proto.INS_ACCEPT, proto.CLA_PROPRIETARY | proto.CLA_CHAIN) == timeouts.FAST
    assert timeouts.command_class(b"") == timeouts.FAST


# --- the name, at boot and at every ping ---------------------------------------------------------


def test_the_card_names_its_board_at_boot_and_at_every_ping(tmp_path):
    cards = Cards(tmp_path, "micropython")
    try:
        card = cards.card("a", 100, board="esp32s3")
        link = card.link
        assert link.board_name == "esp32s3"
        assert link.wait_for(timeouts.ACCEPT) == timeouts.for_board("esp32s3")[timeouts.ACCEPT]
        heard = _heard(link)
        link.ping()
        assert heard[-1][0] == proto.FRAME_PONG and heard[-1][2] == b"board esp32s3"
        # A new session's first command waits as the board needs, learnt by the ping before it.
        link.close()
        with SerialLink(card.port) as other:
            asked = []
            wait_for = other.wait_for
            other.wait_for = lambda cls: asked.append((cls, other.board_name)) or wait_for(cls)
            other.exchange(SELECT)
            assert asked == [(timeouts.FAST, None), (timeouts.FAST, "esp32s3")]
        # A power cut at the next store operation: the card boots again, says so, and names
        # its board again; the link selects the applet again and the command goes through.
        cards.restart(card, cut_at=1)
        link = card.link
        heard = _heard(link)
        link.board_name = None
        resets = link.resets
        card.client.make_challenge(10)
        assert link.resets == resets + 1 and link.board_name == "esp32s3"
        boot = heard.index((proto.FRAME_PONG, 0, proto.BOOT_NOTICE))
        assert heard[boot + 1] == (proto.FRAME_PONG, 0, b"board esp32s3")
    finally:
        cards.close()


def test_an_emulated_card_is_the_unix_profile_and_card_info_says_what_it_waits(tmp_path, capsys):
    with EmulatedCard(tmp_path / "a", runtime="cpython") as card:
        assert card.link.board_name == "unix"
        port = card.port
        card.link.close()
        card.link = None
        assert main(["card", "info", port]) == 0
        out = capsys.readouterr().out
        assert re.search(r"^board +unix; answers awaited fast 3 s, crypto 3 s", out, re.M), out
        assert main(["card", "info", port, "--timeout", "2"]) == 0
        out = capsys.readouterr().out
        assert re.search(r"^board +unix; every answer awaited 2 s \(--timeout\)$", out, re.M)


# --- a slow card ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link_timeout,slow_ms",
    [
        (None, 4500),  # The unix profile's 3 s for ACCEPT, then one probe.
        (0.5, 1500),  # A short wait given: several probes while the card works.
    ],
)
def test_a_slow_accept_is_probed_never_sent_again(tmp_path, link_timeout, slow_ms):
    """An ACCEPT that takes longer than the link waits: the link asks the card whether it has
    finished (a probe, which the card answers only after the ACCEPT), and never sends the
    ACCEPT again; the transfer completes and the amounts add up."""
    cards = Cards(tmp_path, "micropython")
    try:
        a = cards.card("a", 5000)
        b = cards.card("b", faults={"slow": "accept:%d" % slow_ms}, link_timeout=link_timeout)
        sent = _written(b.link)
        resends = b.link.resends  # A ping sent again at start, when the boot notice came first.
        began = time.monotonic()
        outcome = transfer(a.client, b.client, 100)
        assert time.monotonic() - began >= slow_ms / 1000.0
        assert outcome.credited == 100
        commands = _commands(sent)
        accepts = [c for c in commands if c[2][1] == proto.INS_ACCEPT]
        assert accepts and accepts[-1][2][0] & proto.CLA_CHAIN == 0
        assert len(commands) == len(set(commands)), "a command frame was sent twice"
        assert b.link.resends == resends and b.link.probes >= 1
        probes = [f for f in sent if f[0] == proto.FRAME_PING and f[2] != b""]
        assert probes and all(p[2].startswith(LINK_PROBE) for p in probes)
        assert [a.client.info().balance, b.client.info().balance] == [4900, 100]
    finally:
        cards.close()


def test_a_card_slower_than_the_link_waits_fails_cleanly_and_loses_nothing(
    tmp_path, capsys, monkeypatch
):
    """`icpurse pay` with a --timeout far below what the recipient's ACCEPT takes: the link
    gives up after five silent waits, having sent the ACCEPT once, and the command says what
    the cards hold (here: nothing could be read back while the card worked) in one line, exit
    status 3. Once the card is done, the payer's debit and the recipient's credit match."""
    cards = Cards(tmp_path, "cpython")
    try:
        a = cards.card("a", 5000)
        b = cards.card("b", faults={"slow": "accept:5000"})
        cards.release(a)
        cards.release(b)
        sent = []
        send = SerialLink._send

        def spy(self, kind, seq, payload):
            sent.append((self.port, kind, seq, bytes(payload)))
            return send(self, kind, seq, payload)

        monkeypatch.setattr(SerialLink, "_send", spy)
        code = main(["pay", "--from", a.port, "--to", b.port, "--amount", "100",
                     "--timeout", "0.3"])  # fmt: skip
        _, err = capsys.readouterr()
        monkeypatch.undo()
        assert code == 3, err
        assert "Traceback" not in err, err
        assert err.startswith("icpurse: in doubt: the card on %s does not answer" % b.port), err
        accepts = [s for s in sent if s[1] == proto.FRAME_COMMAND and s[3][1] == proto.INS_ACCEPT]
        assert len(accepts) == len(set(accepts)) >= 1
        time.sleep(5.5)  # The card finishes its ACCEPT.
        cards.attach(a)
        cards.attach(b)
        payer, payee = a.client.info(), b.client.info()
        assert payer.balance + payee.balance == 5000
        assert payer.counter == 1 and payee.balance == 100  # The ACCEPT ran once, to the end.
    finally:
        cards.close()


# --- what a broken or hostile card may send -----------------------------------------------------


class FakeCard:
    """A card on a bare pty that answers pings with `pong`, and commands with `answer` after
    `delay` seconds; it records every frame it receives. `boot` is sent before the first
    command's answer (a restart's notice and what follows it)."""

    def __init__(self, pong, answer=b"\x90\x00", delay=0.0, boot=()):
        self.pong = pong
        self.answer = answer
        self.delay = delay
        self.boot = list(boot)
        self.received = []
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.slave = slave
        self.port = os.ttyname(slave)
        self.done = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        deframer = frame.Deframer()
        while not self.done:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            for raw in deframer.feed(data):
                kind, seq, payload = frame.decode_frame(raw)
                self.received.append((kind, seq, payload))
                if kind == proto.FRAME_PING:
                    self._write(proto.FRAME_PONG, seq, self.pong)
                elif kind == proto.FRAME_COMMAND:
                    for body in self.boot:
                        self._write(proto.FRAME_PONG, 0, body)
                    self.boot = []
                    time.sleep(self.delay)
                    self._write(proto.FRAME_RESPONSE, seq, self.answer)

    def _write(self, kind, seq, payload):
        try:
            os.write(self.master, frame.encode_frame(kind, seq, payload))
        except OSError:
            pass

    def close(self):
        self.done = True
        os.close(self.master)
        os.close(self.slave)
        self.thread.join(2)


@pytest.mark.parametrize(
    "pong,reason",
    [
        (b"board " + b"x" * 200, "a board name of 200 bytes (at most 16)"),
        (b"board bad name!", "b'bad name!', which is not a board name"),
        (b"board \xff\xfe\x00", "which is not a board name"),
        (b"board ", "b'', which is not a board name"),
        (b"hello", "answered a ping with b'hello', not with its board's name"),
    ],
)
def test_a_bad_board_name_is_refused_in_one_line(capsys, pong, reason):
    card = FakeCard(pong)
    try:
        with (
            SerialLink(card.port, timeout=0.5) as link,
            pytest.raises(LinkError, match=re.escape(reason)),
        ):
            link.ping()
        assert main(["card", "info", card.port, "--timeout", "0.5"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("icpurse: error: the card on %s " % card.port) and reason in err
        assert "Traceback" not in err and err.count("\n") == 1
    finally:
        card.close()


def test_a_bad_board_name_after_a_boot_notice_is_refused(capsys):
    card = FakeCard(b"board fine", boot=[proto.BOOT_NOTICE, b"board " + b"\x07" * 240])
    try:
        with (
            SerialLink(card.port, timeout=0.5) as link,
            pytest.raises(LinkError, match="names its board with a board name of 240 bytes"),
        ):
            link.exchange(SELECT)
    finally:
        card.close()


def test_a_card_that_names_no_board_is_sent_commands_again_as_before():
    """Firmware older than board names answers a ping with nothing and forgets its last answer
    at every ping, so it is never probed: the command goes again when the wait runs out (the
    card answers a repeat from its last answer), and the waits are the slowest board's."""
    card = FakeCard(b"", delay=0.5)
    try:
        link = SerialLink(card.port)
        link.ping()
        assert link.board_name == "" and link.wait_for(timeouts.ACCEPT) == timeouts.UNKNOWN[3]
        link.timeout = 0.2
        assert link.exchange(SELECT) == b"\x90\x00"
        assert link.probes == 0 and link.resends >= 1
        deadline = time.monotonic() + 5
        while len(_commands(card.received)) < 1 + link.resends and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_commands(card.received)) == 1 + link.resends
        pings = [f for f in card.received if f[0] == proto.FRAME_PING]
        assert pings == [(proto.FRAME_PING, 1, b"")]
        link.close()
    finally:
        card.close()
