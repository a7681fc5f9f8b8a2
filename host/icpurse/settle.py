"""Reconciliation and recovery, as the issuer and the CA carry them out with the logger
(docs/PROTOCOL.md sections 7.1 and 7.2; the logger's side is
icpurse.logger.service.settlement).

- `refund_due`: every in-doubt payment whose settlement window has passed is refunded to its
  payer with a voucher raised by the amount; the logger settles the payment in the same step,
  so a log record arriving later is kept as evidence and never credited. The payer's card
  takes the voucher at its next `icpurse sync`.
- `recover`: the CA revokes a damaged or lost card; once the window has passed the logger
  closes its ledger and signs a balance statement naming the new card; the issuer loads the
  new card with a voucher for exactly that balance.
"""

import time

from icpurse.authority import AuthorityError
from icpurse.logger.client import LoggerError
from icpurse.provision import Provisioner
from purse import proto
from purse.client import CardError
from purse.records.credentials import RevocationList
from purse.records.statement import BalanceStatement


def refund_due(issuer, logger, ltime=None, progress=None):
    """Refund every in-doubt payment the logger says is due. Returns [(payment dict,
    voucher)] of the refunds made; a payment logged meanwhile is skipped."""
    done = []
    for payment in logger.in_doubt():
        if not payment["due"]:
            continue
        payer = bytes.fromhex(payment["payer_id"])
        key = bytes.fromhex(payment["payment_key"])
        try:
            voucher = issuer.load(
                payer,
                payment["amount"],
                int(time.time()) if ltime is None else ltime,
                reason="refund",
                reference=key,
                publish=lambda v, k=key: logger.publish_voucher(v, "refund", k),
            )
        except LoggerError as exc:
            if exc.status in (409, 425):
                continue  # Logged or refunded meanwhile, or not due after all.
            raise
        done.append((payment, voucher))
        if progress is not None:
            progress(
                "refunded %d to card %s (voucher %d)"
                % (payment["amount"], payer.hex(), voucher.sequence)
            )
    return done


def _revoke(ca, logger, card_id, ltime, progress):
    """Revoke `card_id` at the CA (if it is not yet) and have the logger serve the list."""
    served = logger.revocation()
    if served is not None and RevocationList.decode(served).is_revoked(card_id):
        return
    rl = ca.revoke([card_id], ltime, "recovered")
    logger.publish_revocation(rl.encode())
    if progress is not None:
        progress("revoked card %s: revocation list %d" % (card_id.hex(), rl.sequence))


def _statement(logger, card_id, successor, wait, progress):
    """Ask the logger to close the old card's ledger, waiting up to `wait` seconds while its
    settlement window is open."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return logger.recover(card_id, successor)
        except LoggerError as exc:
            if exc.status != 425:
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise AuthorityError(
                    "%s; run `icpurse recover` again then (or give a longer --wait)" % exc.reason
                ) from None
            pause = min(left, max(1, exc.retry_after or 1))
            if progress is not None:
                progress("%s: waiting %d s" % (exc.reason, pause))
            time.sleep(pause)


def recover(ca, issuer, logger, card_id, new_client, logger_key, wait=0.0, progress=None):
    """Recover the balance of card `card_id` onto the card behind `new_client` (a
    purse.client.CardClient), provisioning that card first if it is fresh. Returns
    (BalanceStatement, the new card's Info)."""
    ca.certificate(card_id)  # An unknown card is refused before anything is signed.
    new_client.select()
    info = new_client.info()
    if info.state != proto.STATE_READY:
        if logger_key is None:
            raise AuthorityError(
                "the new card is not personalised: give --logger-key (PkL) to provision it"
            )
        provisioner = Provisioner(
            ca, issuer, logger_key, logger.ticket, publish=logger.publish_voucher,
            stamp_for=logger.stamp, log_id=logger.log_id(),
        )  # fmt: skip
        info = provisioner.personalise(new_client.exchange)
        if progress is not None:
            progress("provisioned the new card %s" % info.card_id.hex())
    if info.card_id == card_id:
        raise AuthorityError("the new card is the card to recover")
    now = int(time.time())
    _revoke(ca, logger, card_id, now, progress)
    data = _statement(logger, card_id, info.card_id, wait, progress)
    statement = BalanceStatement.decode(data)
    if statement.card_id != card_id or statement.successor != info.card_id:
        raise AuthorityError("the logger's statement is for other cards")
    try:
        voucher = issuer.load(
            info.card_id, statement.balance, now, reason="recovery", reference=card_id,
            publish=lambda v: logger.publish_voucher(v, "recovery", card_id),
        )  # fmt: skip
    except LoggerError as exc:
        if exc.status != 409:
            raise
        # Loaded before (a second run after a failure): the logger holds the voucher.
        voucher = None
    if voucher is not None:
        new_client.load_voucher(voucher.encode())
    else:
        recorded = logger.latest_voucher(info.card_id)
        try:
            new_client.load_voucher(recorded)
        except CardError as exc:
            if exc.sw != proto.SW_WRONG_STATE:
                raise
    revocation = logger.revocation()
    try:
        new_client.install_revocation(revocation)
    except CardError as exc:
        if exc.sw != proto.SW_WRONG_STATE:
            raise
    return statement, new_client.info()
