"""Personalise a card with the host's authorities: the CA certifies the key the card generated,
the issuer's risk parameters and first voucher are installed, the logger gives the first L-time.

The command sequence itself is purse.client.personalise, shared with every other terminal; this
module supplies what the host's CA, issuer and logger sign. It works over any link: an
in-process Applet today, a serial port or an NFC reader through the same CardClient.
"""

import os
import time

from icpurse.authority import AuthorityError, validity
from purse.client import CardClient, personalise

# What GENERATE KEY takes from the host (docs/PROTOCOL.md section 8): as much as the key itself.
HOST_ENTROPY_BYTES = 32


class Provisioner:
    """The CA, the issuer and the logger's key and tickets, ready to personalise cards.

    `ticket_for(nonce) -> ticket bytes` asks the logger for a ready-ticket; until the logger
    service runs, a test or a demo signs them with the logger's key. `log_id` is the id of the
    logger's log (LoggerClient.log_id), which the card and its vouchers are bound to: the card
    takes PkL with it, and refuses what another log signs, even under the same key.
    """

    def __init__(self, ca, issuer, logger_key, ticket_for, publish=None, stamp_for=None, *,
                 log_id):  # fmt: skip
        self.ca = ca
        self.issuer = issuer
        self.logger_key = logger_key
        self.log_id = bytes(log_id)
        self.ticket_for = ticket_for
        # publish(voucher bytes): the issuer feed to the logger, for every voucher signed here.
        self.publish = publish
        # stamp_for(card id, payer counter) -> L's stamp: a card pays only with one, so a card
        # provisioned with a logger gets its first (counter 0) at once.
        self.stamp_for = stamp_for

    def current_risk(self):
        """The issuer's newest risk parameters, as bytes."""
        row = self.issuer.conn.execute(
            "SELECT record FROM risk_parameters ORDER BY sequence DESC LIMIT 1"
        ).fetchone()
        if row is None:
            raise AuthorityError("the issuer has signed no risk parameters yet (issuer risk)")
        return row[0]

    def personalise(self, exchange, amount=0, days=5 * 365, ltime=None, host_entropy=None):
        """Provision the card behind `exchange`, register it with the issuer and load `amount`
        with its first voucher (possibly for 0). Returns the card's Info after the load.

        GENERATE KEY gets `host_entropy`, by default 32 fresh bytes of os.urandom: the card
        mixes them with its own randomness, so a board whose own sources are weak (see
        firmware/entropy.py) still makes a key no one can guess. A test passes its own bytes
        for reproducible keys."""
        if host_entropy is None:
            host_entropy = os.urandom(HOST_ENTROPY_BYTES)
        client = CardClient(exchange)
        now = int(time.time()) if ltime is None else ltime
        issued = {}

        def certify(public_key):
            cert = self.ca.certify(public_key, *validity(days, now))
            issued["certificate"] = cert
            return cert.encode()

        anchors = (
            self.ca.signer.public_key,
            self.issuer.signer.public_key,
            bytes(self.logger_key) + self.log_id,
        )
        risk = self.current_risk()
        info = personalise(client, anchors, certify, risk, self.ticket_for, host_entropy)
        self.issuer.register(issued["certificate"].encode())
        voucher = self.issuer.load(
            info.card_id, amount, now, publish=self.publish, log_id=self.log_id
        )
        client.load_voucher(voucher.encode())
        if self.stamp_for is not None:
            client.take_stamp(self.stamp_for(info.card_id, 0))
        return client.info()
