"""A tap between two emulated boards under real MicroPython: each board runs the firmware with
a PN532 on its UART, a simulated chip behind a pty (emulator.pn532pty); the two chips share one
RF field. The host only arms the payer's amount (the button's stand-in) and asks the recipient
to receive; the boards' firmware does the whole exchange over NFC. Then `icpurse sync` logs
it."""

import subprocess
import sys
import threading

from bank import icpurse

from icpurse.emulator.pn532pty import PtyChip
from icpurse.emulator.pn532sim import Field
from purse.records.log import LogRecord


def test_a_tap_between_two_micropython_boards_then_sync(bank):
    field = Field()
    with PtyChip(field) as chip_a, PtyChip(field) as chip_b:
        a = bank.card("a", 1000, runtime="micropython", nfc_device=chip_a.path)
        b = bank.card("b", runtime="micropython", nfc_device=chip_b.path)
        assert a.link.board(b"arm 300") == b"ok armed 300"
        listened = {}

        def listen():
            listened["answer"] = a.link.board(b"listen", timeout=60)

        payer = threading.Thread(target=listen)
        payer.start()
        answer = b.link.board(b"receive 300", timeout=60).decode()
        payer.join(60)
        assert answer.startswith("ok credited 300 balance 300 rtt "), answer
        assert listened["answer"].startswith(b"ok served "), listened
        assert (a.client.info().balance, b.client.info().balance) == (700, 300)
        record = LogRecord.decode(b.client.read_outbox(0))
        assert record.rtt == int(answer.split()[-1])
        # A second tap that the payer did not arm is declined: nothing moves.
        payer = threading.Thread(target=listen)
        payer.start()
        refused = b.link.board(b"receive 50", timeout=60).decode()
        payer.join(60)
        assert refused.startswith("error CardError") and "6A" not in refused, refused
        assert (a.client.info().balance, b.client.info().balance) == (700, 300)
    synced = bank.sync(b)
    assert synced.returncode == 0 and "1 log record(s) sent and receipted" in synced.stdout, (
        synced.stdout + synced.stderr
    )
    assert bank.logger.card(b.card_id)["balance"] == 300


def test_icpurse_field_and_icpurse_tap(bank, tmp_path):
    """The same with the commands a user runs: `icpurse field`, boards started with
    `icpurse emulate --nfc`, and `icpurse tap --from --to --amount --logger`."""
    socket_path = tmp_path / "field.sock"
    field = subprocess.Popen(
        [sys.executable, "-m", "icpurse", "field", "--socket", str(socket_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert field.stdout.readline().startswith("field on ")
        a = bank.card("a", 1000, runtime="micropython", nfc=socket_path)
        b = bank.card("b", runtime="micropython", nfc=socket_path)
        for card in (a, b):
            card.link.close()
        done = icpurse("tap", "--from", a.port, "--to", b.port, "--amount", 250,
                       *bank.logger_args())  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "tapped: 250 moved" in done.stdout and "1 log record(s) receipted" in done.stdout
        # A second tap, alike but for the amount: each board's link numbers its frames from 1
        # again, which its board must not take for a repeat of the last tap's (it used to
        # answer the old "ok balance 250" and the command reported a tap that never was).
        again = icpurse("tap", "--from", a.port, "--to", b.port, "--amount", 100)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "tapped: 100 moved; the recipient holds 350" in again.stdout, again.stdout
        # A card without an NFC reader is named before the payer is armed, and a board cannot
        # pay itself.
        plain = bank.card("plain")
        plain.link.close()
        refused = icpurse("tap", "--from", a.port, "--to", plain.port, "--amount", 10)
        assert refused.returncode == 2 and "payer: confirm" not in refused.stdout
        assert "the card on %s takes no board commands: it has no NFC reader" % plain.port in (
            refused.stderr)  # fmt: skip
        itself = icpurse("tap", "--from", a.port, "--to", a.port, "--amount", 10)
        assert itself.returncode == 2 and "a card cannot pay itself" in itself.stderr
        for card in (a, b):
            bank.attach(card)
        assert (a.client.info().balance, b.client.info().balance) == (650, 350)
        assert bank.logger.card(b.card_id)["balance"] == 250
    finally:
        field.terminate()
        field.wait(10)
