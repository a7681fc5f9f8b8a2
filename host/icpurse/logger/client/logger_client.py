"""The host's client of the logger: submit records, fetch receipts, proofs, checkpoints,
balances and the revocation list, and sync a card's outbox.

Every answer that the logger signs is checked here with PkL before it is used, and proofs are
verified against signed checkpoints, so a terminal trusts the logger's key, not its transport.

An answer that is not what the API describes (not a JSON object, a field missing, of another
type or not hex: a URL that is not an icpurse logger, or a logger gone wrong) is a
LoggerError too (answers.py), never a KeyError or a TypeError from deep inside a command.

A 503 means the logger could not do the request now (its queue was full, or its database
failed and the transaction rolled back); a 429, that this client read more than its share.
Every request may be sent again — an identical record, voucher, journal, recovery or
revocation list is answered as it was the first time — so with `retries` the client does that
after the Retry-After the logger named (at most `max_wait` seconds each time), and reports
each wait through `progress`. Nothing else is
retried: a lost connection or a refusal goes to the caller, who decides.
"""

import time
from typing import NamedTuple

import httpx2

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger import merkle
from icpurse.logger.client.answers import (
    CARD_COLUMNS,
    EVIDENCE_COLUMNS,
    IN_DOUBT_COLUMNS,
    LEDGER_COLUMNS,
    OVERSPEND_COLUMNS,
    LoggerError,
    columns_checked,
    field,
    hex_field,
    hex_list,
    malformed,
    object_checked,
    objects,
)
from icpurse.logger.client.signing import RequestSigning
from purse import proto
from purse.client import CardError
from purse.records.checkpoint import Checkpoint
from purse.records.log import LogRecord
from purse.records.logger import Receipt, Ticket

# The roles of the private reads: the operator, or the issuer, which audits the logger.
READER = ("operator", "issuer")
# What a person gives the command line for each role's key.
_KEY_OPTIONS = {
    "operator": "--operator-key with an operator key, or --issuer with the issuer's directory",
    "issuer": "--issuer with the issuer's directory",
    "ca": "--ca with the CA's directory",
}

# Times the command line's clients send a request again after a 503; with the logger's
# Retry-After of 1 to 5 s, a terminal rides out up to 20 seconds of a logger unable to commit.
CLI_RETRIES = 4


class LoggerClient:
    def __init__(self, base_url=None, logger_key=None, http=None, timeout=10.0, retries=0,
                 max_wait=10.0, progress=None, signers=None, verify=True):  # fmt: skip
        """`http` may be any httpx2.Client (a Starlette TestClient in tests); otherwise one is
        made for `base_url`, checking an https logger's certificate against `verify` (True:
        the system's authorities; a path: a CA bundle or the logger's own certificate). With
        `logger_key` (PkL), signed answers are verified. `retries`: how many times a request
        answered 503 is sent again (see the module's docstring). `signers`: role ("issuer",
        "ca", "operator") -> the purse Signer whose key signs the requests that role makes
        (access/signature.py)."""
        if http is None:
            http = httpx2.Client(base_url=base_url, timeout=timeout, verify=_verify(verify))
        self.http = http
        self.signers = dict(signers or {})
        # One RequestSigning a signer, so that the logger's log id, which each signature covers,
        # is read from its checkpoint once per client, not before every request.
        self._signing = {}
        self.logger_key = logger_key
        self.backend = PycaBackend()
        self.retries = retries
        self.max_wait = max_wait
        self.progress = progress

    def close(self):
        self.http.close()

    def _call(self, method, path, **kwargs):
        attempt = 0
        while True:
            try:
                return self._call_once(method, path, **kwargs)
            except LoggerError as exc:
                if exc.status not in (429, 503) or attempt >= self.retries:
                    raise
                pause = min(self.max_wait, exc.retry_after or 1)
                if self.progress is not None:
                    self.progress("logger: %s; asking again in %g s" % (exc.reason, pause))
            attempt += 1
            time.sleep(pause)

    def _call_once(self, method, path, roles=(), **kwargs):
        signer = next((self.signers[r] for r in roles if r in self.signers), None)
        if signer is not None:
            auth = self._signing.get(id(signer))
            if auth is None:
                auth = RequestSigning(signer, logger_key=self.logger_key)
                self._signing[id(signer)] = auth
            kwargs["auth"] = auth
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx2.HTTPError as exc:
            raise LoggerError(None, "cannot reach the logger: %s" % exc) from None
        try:
            body = response.json()
        except (ValueError, RecursionError):
            raise LoggerError(response.status_code, "the answer is not JSON") from None
        if response.status_code >= 400:
            retry = response.headers.get("retry-after", "")
            reason = body.get("error", "refused") if isinstance(body, dict) else "refused"
            if response.status_code == 401 and signer is None and roles:
                reason += " (give %s)" % _KEY_OPTIONS[roles[0]]
            raise LoggerError(
                response.status_code,
                reason,
                int(retry) if retry.isdigit() else None,
                _evidence(body),
            )
        if not isinstance(body, dict):
            raise malformed("the answer is not a JSON object")
        return body

    def _signed(self, cls, data):
        record = cls.decode(data)
        if self.logger_key is not None:
            record.verify(self.backend, self.logger_key)
        return record

    # --- records ------------------------------------------------------------------------------

    def submit(self, record):
        """Store one log record; returns the receipt bytes (checked with PkL)."""
        body = self._call("POST", "/v1/record", json={"record": bytes(record).hex()})
        receipt = hex_field(body, "receipt")
        parsed = self._signed(Receipt, receipt)
        if not parsed.names(LogRecord.decode(record)):
            raise LoggerError(200, "the receipt is for another record")
        return receipt

    def submit_batch(self, records):
        """Store records in one request: [receipt bytes or LoggerError] per record."""
        body = self._call("POST", "/v1/records", json={"records": [r.hex() for r in records]})
        results = objects(body, "results")
        if len(results) != len(records):
            raise malformed(
                "the answer has %d results for %d records" % (len(results), len(records))
            )
        out = []
        for result in results:
            status = field(result, "status", int)
            if status == 200:
                out.append(hex_field(result, "receipt"))
            else:
                error = result.get("error")
                out.append(LoggerError(status, error if isinstance(error, str) else "refused",
                                       evidence=_evidence(result)))  # fmt: skip
        return out

    def leaf(self, index):
        body = self._call("GET", "/v1/records/%d" % index, roles=READER)
        return hex_field(body, "record"), hex_field(body, "receipt")

    def ticket(self, nonce):
        """The ready-ticket for a card's nonce (embodiment 2)."""
        body = self._call("GET", "/v1/status", params={"nonce": bytes(nonce).hex()})
        ticket = hex_field(body, "ticket")
        self._signed(Ticket, ticket)
        return ticket

    # --- proofs -------------------------------------------------------------------------------

    def checkpoint(self):
        body = self._call("GET", "/v1/checkpoint")
        return self._signed(Checkpoint, hex_field(body, "checkpoint"))

    def log_id(self):
        """The id of this logger's log, from its signed checkpoint (checked with PkL when the
        client has it): what a card provisioned with this logger, and its vouchers, name."""
        return self.checkpoint().log_id

    def inclusion_proof(self, index, size):
        body = self._call("GET", "/v1/proofs/inclusion", params={"index": index, "size": size})
        return hex_list(body, "proof")

    def consistency_proof(self, old, new):
        body = self._call("GET", "/v1/proofs/consistency", params={"old": old, "new": new})
        return hex_list(body, "proof")

    def verify_included(self, record, receipt, checkpoint):
        """Prove that `record` (with its receipt) is in the tree of a signed checkpoint."""
        rc = self._signed(Receipt, receipt)
        if rc.leaf_index >= checkpoint.tree_size:
            raise merkle.ProofError("the checkpoint predates the record")
        proof = self.inclusion_proof(rc.leaf_index, checkpoint.tree_size)
        merkle.verify_inclusion(
            merkle.leaf_hash(record), rc.leaf_index, checkpoint.tree_size, proof, checkpoint.root
        )

    def verify_consistent(self, old, new):
        """Prove that signed checkpoint `new` extends `old` (the log only grew)."""
        if old.log_id != new.log_id:
            # Two logs that share a key: no proof can make one the other's extension.
            raise merkle.ProofError(
                "the checkpoints are of two logs, %s and %s" % (old.log_id.hex(), new.log_id.hex())
            )
        proof = self.consistency_proof(old.tree_size, new.tree_size)
        merkle.verify_consistency(old.tree_size, new.tree_size, old.root, new.root, proof)

    def session(self, private_key):
        """An operator session for a browser (`icpurse logger login`): the token, opened with
        the operator's `private_key` (pyca's object) from the sealed answer, the cookie's name
        and when it expires."""
        from icpurse.logger.access.seal import SealError, open_sealed

        body = self._call("POST", "/v1/session", roles=("operator",))
        try:
            token = open_sealed(private_key, hex_field(body, "sealed")).decode("ascii")
        except (SealError, UnicodeDecodeError) as exc:
            raise malformed("the session: %s" % exc) from None
        return {
            "session": token,
            "cookie": field(body, "cookie", str),
            "expires": field(body, "expires", int),
        }

    # --- cards and feeds ----------------------------------------------------------------------

    def card(self, card_id):
        """A card's history and its balance as the logger reconstructs it."""
        path = "/v1/cards/%s" % bytes(card_id).hex()
        body = object_checked(self._call("GET", path, roles=READER), "card", CARD_COLUMNS)
        # The history comes a page at a time; the balance with every page.
        while body.get("next") is not None:
            following = field(body, "next", int)
            more = object_checked(
                self._call("GET", path, roles=READER, params={"after": following}),
                "card", CARD_COLUMNS,
            )  # fmt: skip
            more["history"] = body["history"] + more["history"]
            body = more
        return body

    def alerts(self):
        """Overspending payers and the evidence of conflicts and clones."""
        body = self._call("GET", "/v1/alerts", roles=READER)
        columns_checked(objects(body, "overspend"), "overspend", OVERSPEND_COLUMNS)
        columns_checked(objects(body, "evidence"), "evidence", EVIDENCE_COLUMNS)
        return body

    def revocation(self):
        """The newest CA-signed revocation list (bytes), or None."""
        try:
            body = self._call("GET", "/v1/revocation")
        except LoggerError as exc:
            if exc.status == 404:
                return None
            raise
        return hex_field(body, "revocation")

    def publish_revocation(self, data):
        return self._call(
            "POST", "/v1/revocation", roles=("ca",), json={"revocation": bytes(data).hex()}
        )

    def publish_voucher(self, data, reason="load", reference=None):
        """Record a voucher the issuer signed: a load, a refund of the in-doubt payment whose
        payment key is `reference`, or a recovery of the card whose id is `reference`."""
        body = {"voucher": bytes(data).hex(), "reason": reason}
        if reference is not None:
            body["reference"] = bytes(reference).hex()
        return self._call("POST", "/v1/vouchers", roles=("issuer",), json=body)

    def latest_voucher(self, card_id):
        """The newest voucher the issuer recorded for a card (bytes), or None."""
        try:
            body = self._call("GET", "/v1/cards/%s/voucher" % bytes(card_id).hex())
        except LoggerError as exc:
            if exc.status == 404:
                return None
            raise
        return hex_field(body, "voucher")

    # --- settlement ---------------------------------------------------------------------------

    def upload_journal(self, payments):
        """Record a payer's signed payments; returns one result dict per payment."""
        results = []
        for start in range(0, len(payments), 64):
            chunk = [bytes(p).hex() for p in payments[start : start + 64]]
            results += objects(self._call("POST", "/v1/payments", json={"payments": chunk}),
                                "results")  # fmt: skip
        return results

    def stamp(self, card_id, counter):
        """L's stamp (bytes, checked with PkL) for the card, acknowledging its payments up to
        payer counter `counter`; upload its journal first."""
        body = self._call(
            "POST", "/v1/stamps", json={"card_id": bytes(card_id).hex(), "counter": int(counter)}
        )
        from purse.records.stamp import Stamp

        data = hex_field(body, "stamp")
        stamp = self._signed(Stamp, data)
        if stamp.card_id != bytes(card_id) or stamp.counter != int(counter):
            raise LoggerError(None, "the logger's stamp is for another card or counter")
        return data

    def in_doubt(self, card_id=None):
        params = {} if card_id is None else {"card": bytes(card_id).hex()}
        payments = objects(
            self._call("GET", "/v1/in-doubt", roles=READER, params=params), "payments"
        )
        return columns_checked(payments, "in-doubt", IN_DOUBT_COLUMNS)

    def recover(self, card_id, successor):
        """The logger's signed balance statement (bytes, checked with PkL) closing `card_id`
        onto `successor`; LoggerError 425 with `retry_after` while the window is open."""
        body = self._call(
            "POST", "/v1/recoveries", roles=("issuer",),
            json={"card_id": bytes(card_id).hex(), "successor": bytes(successor).hex()},
        )  # fmt: skip
        from purse.records.statement import BalanceStatement

        data = hex_field(body, "statement")
        self._signed(BalanceStatement, data)
        return data

    def ledger(self):
        """The totals of the ledger identity, and every card's reconstructed balance."""
        body = object_checked(
            self._call("GET", "/v1/ledger", roles=READER), "ledger", LEDGER_COLUMNS
        )
        for card_id, sums in body["cards"].items():
            object_checked(sums, "ledger's card %s" % card_id, (("balance", int),))
        return body

    def _pages(self, path, cursor):
        """Every row of a paged feed, following each page's `next` cursor (the query parameter
        `cursor` carries it) until a page says there is none."""
        rows = []
        params = {}
        while True:
            answer = self._call("GET", path, roles=READER, params=params)
            rows += objects(answer, "rows")
            following = answer.get("next")
            if following is None:
                return rows
            if not isinstance(following, (str, int)) or isinstance(following, bool):
                raise malformed("the page's next cursor is not a cursor")
            params = {cursor: following}

    def ledger_table(self, table):
        """Every row of a ledger table (vouchers, payments, settlements, recoveries,
        checkpoints), fetched page by page."""
        return self._pages("/v1/ledger/%s" % table, "after")

    def leaves(self):
        """Every stored leaf: index, record, receipt and the columns the ledger sums."""
        return self._pages("/v1/leaves", "start")

    # --- a card's sync ------------------------------------------------------------------------

    def sync(self, card):
        """Drain a card's outbox into the log and hand each receipt back to the card; upload
        its journal (so a payment that never reached a recipient's log can be settled); load
        a newer voucher the issuer recorded for it (a refund or a recovered balance); install a
        newer revocation list. `card` is a purse.client.CardClient. Returns a SyncReport."""
        report = SyncReport()
        self._sync_outbox(card, report)
        self._sync_journal(card, report)
        info = card.info()
        self._sync_stamp(card, info, report)
        self._sync_voucher(card, info, report)
        self._sync_revocation(card, report)
        return report

    def _sync_outbox(self, card, report):
        for record in card.outbox():
            try:
                card.take_receipt(self.submit(record))
                report.receipted += 1
            except LoggerError as exc:
                if exc.status not in (403, 409):
                    raise
                # Refused for good (settled late, a closed payer): the record stays on the
                # card as the evidence of what it holds; the card must be recovered.
                report.refused.append(exc.reason)
                if exc.evidence is not None:
                    payer_id = LogRecord.decode(record).payment.certificate.card_id
                    report.clones.append(Clone(payer_id, exc.evidence, exc.reason))

    def _sync_journal(self, card, report):
        from purse.records.transfer import Payment

        journal = card.journal()
        if journal:
            for payment, result in zip(journal, self.upload_journal(journal)):
                state = result.get("state", "refused")
                report.journal[state] = report.journal.get(state, 0) + 1
                evidence = _evidence(result)
                if evidence is not None:
                    # The card's own payment, refused: the logger holds another payment with
                    # its payer counter, so this card or a copy of it is a clone.
                    payer_id = Payment.decode(payment).certificate.card_id
                    reason = result.get("error")
                    report.clones.append(
                        Clone(payer_id, evidence, reason if isinstance(reason, str) else "refused")
                    )

    def _sync_stamp(self, card, info, report):
        try:
            if info.outbox:
                # A record the logger refused stays on the card, which then takes no stamp.
                raise LoggerError(409, "the card holds records the logger did not receipt")
            card.take_stamp(self.stamp(info.card_id, info.counter))
            report.stamped = True
        except LoggerError as exc:
            # A revoked card gets no stamp (403): it stops being paid a window after its last
            # one; a card whose journal the logger could not store gets none either (409).
            if exc.status not in (403, 409):
                raise
            report.stamp_refused = exc.reason

    def _sync_voucher(self, card, info, report):
        voucher = self.latest_voucher(info.card_id)
        if voucher is not None:
            from purse.records.credentials import Voucher

            if Voucher.decode(voucher).issued > info.issued:
                card.load_voucher(voucher)
                report.voucher_loaded = True

    def _sync_revocation(self, card, report):
        revocation = self.revocation()
        if revocation is not None:
            try:
                card.install_revocation(revocation)
                report.revocation_installed = True
            except CardError as exc:
                # WRONG STATE: the card already holds this list or a newer one.
                if exc.sw != proto.SW_WRONG_STATE:
                    raise


def _verify(verify):
    """httpx's `verify` for a CA bundle or certificate path: an SSL context that trusts it."""
    if isinstance(verify, (str, bytes)) or hasattr(verify, "__fspath__"):
        import ssl

        return ssl.create_default_context(cafile=str(verify))
    return verify


def _evidence(body):
    """The kind of evidence a refusal names (an answer's optional "evidence"), or None."""
    kind = body.get("evidence") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


class Clone(NamedTuple):
    """A record or journalled payment the logger refused with evidence against its payer: a
    reused payer counter (a clone) or two records of one payment (modified firmware)."""

    payer_id: bytes
    evidence: str
    reason: str


class SyncReport:
    """What a sync did: records receipted, records refused for good, the journal's payments
    by state at the logger, whether a voucher or a revocation list was installed."""

    def __init__(self):
        self.receipted = 0
        self.refused = []
        # Clone entries: refusals that name evidence against the payer, whose card the CA
        # should revoke.
        self.clones = []
        self.journal = {}
        self.voucher_loaded = False
        self.revocation_installed = False
        # Whether the card took a fresh stamp (every sync of a card in good standing does),
        # and why not when the logger refused one.
        self.stamped = False
        self.stamp_refused = None
