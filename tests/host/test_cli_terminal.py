"""`icpurse card info`, `icpurse card log`, `icpurse pay` and `icpurse sync` against emulated
cards over real ptys and a real logger process: their output, their exit statuses and their
one-line errors."""

import os
import threading
import tty

import pytest
import serial
from emulated import Cards
from logger_fixtures import drop_schema, named_postgres_url

from icpurse.cli import main
from icpurse.emulator.card import EmulatedCard
from icpurse.logger.client import LoggerClient, LoggerError
from icpurse.logger.process import LoggerProcess, free_port


def _roles(cards):
    """The signers of the issuer's and the CA's requests to the logger (the world's keys)."""
    return {"issuer": cards.world.issuer, "ca": cards.world.ca}


@pytest.fixture
def cards(tmp_path):
    c = Cards(tmp_path, "cpython")
    yield c
    c.close()


def run(capsys, *argv):
    """Run the CLI in this process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ready(cards, name, amount=0):
    """A provisioned card whose port the test has let go of, so the CLI can open it."""
    card = cards.card(name, amount)
    cards.release(card)
    return card


def info(capsys, card):
    """`icpurse card info` parsed into {label: value}."""
    code, out, err = run(capsys, "card", "info", card.port)
    assert code == 0, err
    return {line[:15].strip(): line[16:] for line in out.splitlines()}


def publish_vouchers(logger, cards, *some):
    """The issuer's feed: the logger learns every voucher signed for these cards."""
    for card in some:
        for voucher in cards.vouchers[card.public_key]:
            logger.publish_voucher(voucher)


def balance(capsys, card):
    return int(info(capsys, card)["balance"])


def test_card_info(cards, capsys, tmp_path):
    a = ready(cards, "a", 5000)
    fields = info(capsys, a)
    assert fields["card"] == a.card_id.hex()
    assert fields["state"] == "ready"
    assert fields["balance"] == "5000"
    assert fields["issued total w"] == "5000"
    assert fields["payer counter"] == "0"
    assert fields["L-time"] == "%d (2026-11-18T11:06:40Z)" % cards.world.ltime
    assert fields["outbox"].startswith("0 log record(s)")
    assert fields["journal"].startswith("0 payment(s)")
    assert fields["public key"] == a.public_key.hex()

    # A card straight from the factory has no key, no id and no L-time yet.
    with EmulatedCard(tmp_path / "fresh", runtime="cpython") as fresh:
        fresh.link.close()
        fresh.link = None
        fields = info(capsys, fresh)
    assert fields["state"] == "fresh"
    assert fields["card"].startswith("(none yet")
    assert fields["L-time"] == "0 (not set)"


def test_pay_between_two_cards(capsys, tmp_path):
    # The payer runs on the MicroPython Unix port, as a board's firmware does.
    cards = Cards(tmp_path, "micropython")
    try:
        a = ready(cards, "a", 5000)
        b = ready(cards, "b")
        code, out, err = run(capsys, "pay", "--from", a.port, "--to", b.port, "--amount", 300)
        assert code == 0, err
        assert "paid 300 with an encrypted challenge" in out
        assert "payer      %s: balance 4700 (was 5000)" % a.card_id.hex() in out
        assert "recipient  %s: balance 300 (was 0)" % b.card_id.hex() in out
        code, out, err = run(capsys, "pay", "--from", b.port, "--to", a.port, "--amount", 100,
                             "--mode", "signed", "--timeout", 10)  # fmt: skip
        assert code == 0, err
        assert (balance(capsys, a), balance(capsys, b)) == (4800, 200)
        fields = info(capsys, a)
        assert fields["payer counter"] == "1"
        assert fields["outbox"].startswith("1 log record(s)")
    finally:
        cards.close()


def test_pay_refused_for_insufficient_funds(cards, capsys):
    a = ready(cards, "a", 50)
    b = ready(cards, "b")
    code, out, err = run(capsys, "pay", "--from", a.port, "--to", b.port, "--amount", 51)
    assert code == 2
    assert "payer      %s on %s: balance 50" % (a.card_id.hex(), a.port) in out
    assert err.count("\n") == 1
    assert "insufficient funds" in err and "nothing moved" in err
    assert "Traceback" not in err
    assert (balance(capsys, a), balance(capsys, b)) == (50, 0)


def test_card_log_names_a_refusal_in_words(cards, capsys):
    a = ready(cards, "a", 50)
    b = ready(cards, "b")
    code, out, _ = run(capsys, "card", "log", a.port)
    assert (code, out) == (0, "the card on %s has refused nothing since it started\n" % a.port)
    assert run(capsys, "pay", "--from", a.port, "--to", b.port, "--amount", 51)[0] == 2
    code, out, err = run(capsys, "card", "log", a.port)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("the card on %s refused 1 command(s) since it started" % a.port)
    assert lines[1].startswith("  1  PAY: the card refused it; answered ")
    assert "insufficient funds" in lines[1]


def test_a_card_not_personalised_is_named_before_anything_is_asked_of_it(cards, capsys,
                                                                         tmp_path):  # fmt: skip
    a = ready(cards, "a", 50)
    with EmulatedCard(tmp_path / "fresh", runtime="cpython") as fresh:
        fresh.link.close()
        fresh.link = None
        hint = "on %s is not personalised (state fresh): `icpurse provision --port %s` " \
            "personalises it" % (fresh.port, fresh.port)  # fmt: skip
        code, _, err = run(capsys, "pay", "--from", a.port, "--to", fresh.port, "--amount", 5)
        assert code == 2 and "the recipient's card " + hint in err, err
        code, _, err = run(capsys, "pay", "--from", fresh.port, "--to", a.port, "--amount", 5)
        assert code == 2 and "the payer's card " + hint in err, err
        server = cards.logger_process(tmp_path / "logger", "sqlite:///%s" % (tmp_path / "l.db"))
        code, _, err = run(capsys, "sync", fresh.port, "--logger", server.url)
        assert code == 2 and "the card " + hint in err, err
        assert info(capsys, fresh)["state"] == "fresh"
    assert balance(capsys, a) == 50


def test_pay_in_doubt(cards, capsys):
    # The recipient knows the payer's card is revoked, which it finds out only in ACCEPT, after
    # the payer has signed and debited: the payment is in doubt and stays in the payer's journal.
    a = ready(cards, "a", 2000)
    b = cards.card("b")
    b.client.install_revocation(cards.world.revocation([a.card_id]))
    cards.release(b)
    code, _, err = run(capsys, "pay", "--from", a.port, "--to", b.port, "--amount", 1500)
    assert code == 3, err
    assert "in doubt" in err and "revoked" in err and "reconciliation" in err
    assert (balance(capsys, a), balance(capsys, b)) == (500, 0)
    assert info(capsys, a)["journal"].startswith("1 payment(s)")


def test_pay_and_sync_with_a_logger(cards, capsys, tmp_path):
    server = cards.logger_process(tmp_path / "logger", "sqlite:///%s" % (tmp_path / "log.db"))
    a = ready(cards, "a", 5000)
    b = ready(cards, "b")
    logger = LoggerClient(server.url, server.public_key, signers=_roles(cards))
    publish_vouchers(logger, cards, a, b)
    logger.publish_revocation(cards.world.revocation([bytes(8)]))

    # Paid without the logger: the record waits in the recipient's outbox until a sync.
    code, _, err = run(capsys, "pay", "--from", a.port, "--to", b.port, "--amount", 700)
    assert code == 0, err
    assert info(capsys, b)["outbox"].startswith("1 log record(s)")
    code, out, err = run(capsys, "sync", b.port, "--logger", server.url)
    assert code == 0, err
    assert "card %s synced with the logger at %s" % (b.card_id.hex(), server.url) in out
    assert "1 log record(s) sent and receipted; outbox 1 before, 0 now" in out
    assert "the card holds the CA's list 1 (1 card(s) revoked)" in out
    fields = info(capsys, b)
    assert fields["outbox"].startswith("0 log record(s)")
    assert int(fields["L-time"].split()[0]) > cards.world.ltime  # The receipt's L-time.
    # B's clock now runs at the logger's: A's stamp, from the world's older L-time, is stale to
    # it (the recipient would refuse A with 9409), so A syncs and takes a fresh one.
    code, out, err = run(capsys, "sync", a.port, "--logger", server.url)
    assert code == 0 and "stamp: the logger holds the card's payments up to counter 1" in out, out
    assert "its journal holds 0" in out

    # With --logger (and the ready-ticket of embodiment 2) the recipient is synced at once.
    code, out, err = run(capsys, "pay", "--from", a.port, "--to", b.port, "--amount", 200,
                         "--logger", server.url, "--logger-key", server.public_key.hex(),
                         "--ticket", "--mode", "hashed")  # fmt: skip
    assert code == 0, err
    assert "1 log record(s) receipted" in out and "outbox holds 0" in out
    assert (balance(capsys, a), balance(capsys, b)) == (4100, 900)
    assert logger.card(b.card_id)["balance"] == 900
    assert logger.card(a.card_id)["balance"] == 4100

    # A sync with nothing to send says so.
    code, out, err = run(capsys, "sync", b.port, "--logger", server.url)
    assert code == 0, err
    assert "0 log record(s) sent and receipted; outbox 0 before, 0 now" in out
    logger.close()

    # A logger that signs with another key than --logger-key is refused before any card is.
    code, _, err = run(capsys, "sync", b.port, "--logger", server.url,
                       "--logger-key", a.public_key.hex())  # fmt: skip
    assert code == 2 and "another key than --logger-key" in err


def test_sync_rides_out_a_logger_whose_database_drops_it(cards, capsys, tmp_path):
    """PostgreSQL ends the logger's connections (a restart, a failover): the logger answers
    503 with a Retry-After, and `icpurse sync` says so and asks again instead of failing."""
    url, schema, end_connections = named_postgres_url()
    try:
        server = cards.logger_process(tmp_path / "logger", url)
        a = ready(cards, "a", 5000)
        b = ready(cards, "b")
        logger = LoggerClient(server.url, server.public_key, signers=_roles(cards))
        publish_vouchers(logger, cards, a, b)
        logger.close()
        code, _, err = run(capsys, "pay", "--from", a.port, "--to", b.port, "--amount", 700)
        assert code == 0, err
        end_connections()
        code, out, err = run(capsys, "sync", b.port, "--logger", server.url)
        assert code == 0, err
        # Reads and appends each meet an ended connection (unless the logger's heartbeat met
        # the readers' first): the reason is the server's either way.
        assert "terminating connection" in err and "asking again in" in err
        assert "1 log record(s) sent and receipted; outbox 1 before, 0 now" in out
    finally:
        cards.close()
        drop_schema(schema)


def test_paid_but_not_synced(cards, capsys, tmp_path):
    # A logger with a key the cards do not trust, so of another log: the payment goes through,
    # and the logger refuses the record, whose payer voucher names the cards' log, so the record
    # stays in the recipient's outbox (exit status 4). (Were the record taken, the recipient
    # would refuse the receipt: tests/core/test_card_log_id.py.)
    a = ready(cards, "a", 1000)
    b = ready(cards, "b")
    db = "sqlite:///%s" % (tmp_path / "other.db")
    other = LoggerProcess(tmp_path, db, cards.world.ca.public_key, cards.world.issuer.public_key)
    with other:
        feed = LoggerClient(other.url, signers=_roles(cards))
        # Another key is another log: the logger refuses the cards' vouchers, which name theirs.
        with pytest.raises(LoggerError, match="names log"):
            publish_vouchers(feed, cards, a, b)
        feed.close()
        code, out, err = run(capsys, "pay", "--from", a.port, "--to", b.port, "--amount", 10,
                             "--logger", other.url)  # fmt: skip
    assert code == 4
    assert "paid, but not synced" in err and "voucher names log" in err
    assert "recipient  %s: balance 10 (was 0)" % b.card_id.hex() in out
    assert info(capsys, b)["outbox"].startswith("1 log record(s)")


def test_port_errors(cards, capsys, tmp_path):
    a = ready(cards, "a", 100)
    missing = str(tmp_path / "no-such-port")
    code, _, err = run(capsys, "card", "info", missing)
    assert (code, err) == (2, "icpurse: error: no such port: %s\n" % missing)

    # Another program holds the port exclusively, as the CLI itself would.
    holder = serial.Serial(a.port, exclusive=True)
    try:
        code, _, err = run(capsys, "card", "info", a.port)
    finally:
        holder.close()
    assert (code, err) == (2, "icpurse: error: %s is busy: another program has it open\n" % (
        a.port))  # fmt: skip

    # A pty that nobody serves: the link sends, and sends again, and gives up.
    master, slave = os.openpty()
    try:
        silent = os.ttyname(slave)
        code, _, err = run(capsys, "card", "info", silent, "--timeout", "0.05")
        assert code == 2
        assert err == "icpurse: error: the card on %s does not answer\n" % silent
        code, _, err = run(capsys, "pay", "--from", a.port, "--to", silent, "--amount", 1,
                           "--timeout", "0.05")  # fmt: skip
        assert code == 2 and "does not answer" in err
    finally:
        os.close(master)
        os.close(slave)

    code, _, err = run(capsys, "pay", "--from", a.port, "--to", a.port, "--amount", 1)
    assert code == 2 and "the same port" in err
    assert balance(capsys, a) == 100


def test_a_board_that_prints_instead_of_answering_is_quoted(capsys):
    """A board whose firmware crashed answers with a traceback and the REPL prompt: the error
    shows that text, not only that the card is silent."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = os.ttyname(slave)
    crash = (
        b"Traceback (most recent call last):\r\n"
        b'  File "main.py", line 6, in <module>\r\n'
        b"ImportError: no module named 'wallet_app'\r\n"
        b"MicroPython v1.24.1 on 2024-11-29; ESP32 module with ESP32\r\n>>> "
    )

    def board():
        os.read(master, 4096)  # The first frame: the firmware has already crashed.
        os.write(master, crash)

    thread = threading.Thread(target=board, daemon=True)
    thread.start()
    try:
        code, _, err = run(capsys, "card", "info", port, "--timeout", "0.2")
    finally:
        thread.join(5)
        os.close(master)
        os.close(slave)
    assert code == 2
    assert err.startswith("icpurse: error: the card on %s does not answer; it printed instead:\n"
                          "Traceback (most recent call last):\n" % port), err  # fmt: skip
    assert "ImportError: no module named 'wallet_app'" in err and ">>>" in err, err
    assert "`icpurse flash --port %s` puts the wallet on the board" % port in err


def test_usage_errors(capsys, tmp_path):
    for command in (["card", "info"], ["pay"], ["sync"]):
        with pytest.raises(SystemExit) as exc:
            main([*command, "--help"])
        assert exc.value.code == 0
        assert "--timeout SECONDS" in capsys.readouterr().out
    for amount in ("0", "-1", "4294967296", "ten", "1.5"):
        with pytest.raises(SystemExit) as exc:
            main(["pay", "--from", "/dev/null", "--to", "/dev/zero", "--amount", amount])
        assert exc.value.code == 2
        assert "is not an amount" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["card", "info", "/dev/null", "--timeout", "0"])
    assert "is not a timeout" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sync", "/dev/null", "--logger", "127.0.0.1:1"])
    assert "is not a logger URL" in capsys.readouterr().err

    code, _, err = run(capsys, "pay", "--from", "/dev/null", "--to", "/dev/zero", "--amount",
                       "5", "--ticket")  # fmt: skip
    assert code == 2 and "--ticket needs --logger" in err

    # Nothing listens on a fresh port: the logger cannot be reached, before any card is opened.
    url = "http://127.0.0.1:%d" % free_port()
    code, _, err = run(capsys, "sync", str(tmp_path / "nothing"), "--logger", url)
    assert code == 2
    assert err.startswith("icpurse: error: the logger at %s: cannot reach the logger" % url)
    assert err.count("\n") == 1
