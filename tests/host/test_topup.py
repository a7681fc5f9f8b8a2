"""A top-up of a live card (issue 22, problem 5): `issuer load --card ID --amount N --logger
URL` hands the voucher to the logger, the card takes it at its next `icpurse sync`, and the
audit agrees with the issuer's ledger. Before, the voucher reached neither the logger nor the
card, and the audit failed from then on."""

from icpurse.authority import keys
from icpurse.logger.process import LoggerProcess


def test_a_top_up_reaches_the_card_through_sync_and_the_audit_agrees(bank):
    a = bank.card("a", 100)
    card_id = a.card_id.hex()
    done = bank.cli("issuer", "load", "--dir", bank.tmp / "issuer", "--card", card_id,
                    "--amount", "250", *bank.logger_args())  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "the logger holds the voucher" in done.stdout, done.stdout
    assert a.client.info().balance == 100
    synced = bank.sync(a)
    assert synced.returncode == 0, synced.stderr
    assert "voucher: the issuer's newest voucher is loaded" in synced.stdout, synced.stdout
    assert a.client.info().balance == 350
    assert bank.logger.card(a.card_id)["balance"] == 350
    audit = bank.cli("audit", "--issuer", bank.tmp / "issuer", *bank.logger_args())
    assert audit.returncode == 0 and "audit passed" in audit.stdout, audit.stdout


def test_a_top_up_the_logger_refuses_is_recorded_nowhere(bank):
    a = bank.card("a", 100)
    issuer = bank.tmp / "issuer"
    before = bank.issuer.card(a.card_id)
    # A logger of another deployment (its issuer is not ours) refuses the voucher: the issuer
    # keeps nothing either, so its ledger and the real logger's never disagree.
    where = bank.tmp / "other"
    where.mkdir()
    stranger = keys.create(where / "issuer.pem", str(where / "issuer.pem.pub"))
    other = LoggerProcess(where, "sqlite:///%s" % (where / "log.db"),
                          bank.ca.signer.public_key, stranger)  # fmt: skip
    bank.stack.enter_context(other)
    done = bank.cli("issuer", "load", "--dir", issuer, "--card", a.card_id.hex(),
                    "--amount", "250", "--logger", other.url)  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert bank.issuer.card(a.card_id) == before


def test_a_top_up_without_a_logger_says_where_the_voucher_must_go(bank):
    a = bank.card("a", 100)
    done = bank.cli("issuer", "load", "--dir", bank.tmp / "issuer", "--card", a.card_id.hex(),
                    "--amount", "5")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "not on a logger" in done.stdout and "--logger" in done.stdout, done.stdout
