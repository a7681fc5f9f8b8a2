"""A logger service on a real database, with in-process cards that trust it.

`LoggerWorld(url)` builds the service (LoggerService over open_storage(url)) and its Starlette app
(icpurse.logger.api.build_app), adds the worked example's authorities and cards
(tests/core/_cards.py), feeds the issuer's vouchers to the logger, and gives a LoggerClient over
the app (a Starlette TestClient is an httpx client).
"""

import os
import sys
import time
import uuid

from mp_support import ROOT, need
from starlette.testclient import TestClient

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.api import build_app
from icpurse.logger.client import LoggerClient
from icpurse.logger.client.signing import RequestSigning
from icpurse.logger.service import LoggerService
from icpurse.logger.storage import open_storage
from purse.crypto.backend import Signer

sys.path.insert(0, str(ROOT / "tests" / "core"))
from _cards import World
from _example import derive

PG_URL = os.environ.get("ICPURSE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_url():
    """A fresh schema in the test database, so tests never see each other's tables."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            schema = "icpurse_%s" % uuid.uuid4().hex[:12]
            conn.execute("CREATE SCHEMA %s" % schema)
    except Exception as exc:  # noqa: BLE001 - any failure means no usable server.
        need(False, "PostgreSQL at %s (%s)" % (PG_URL, exc))
    return "%s?options=-csearch_path%%3D%s" % (PG_URL, schema), schema


def named_postgres_url():
    """postgres_url() whose connections carry an application name of their own, and a
    function that has the server end them all (as a restart or a failover does)."""
    url, schema = postgres_url()
    name = "icpurse_%s" % uuid.uuid4().hex[:12]

    def end_connections():
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (name,),
            ).fetchall()
        if not ended:
            raise AssertionError("the logger had no connection to end")

    return "%s&application_name=%s" % (url, name), schema, end_connections


def drop_schema(schema):
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("DROP SCHEMA %s CASCADE" % schema)


# The logger's settlement window in these tests; `LoggerWorld.advance` moves its clock past it.
WINDOW = 60


class LoggerWorld(World):
    def __init__(self, url, window=WINDOW, sequencer_process=False, **caps):
        super().__init__(**caps)
        self.storage = open_storage(url)
        self.logger_signer = Signer(PycaBackend(), derive(b"SkL"))
        self.offset = 0
        self.service = LoggerService(
            self.storage, self.logger_signer, self.ca.public_key, self.issuer.public_key,
            clock=lambda: time.time() + self.offset, window=window,
            sequencer_process=sequencer_process,
        )  # fmt: skip
        # The cards of this world belong to the service's log, named by its database's genesis.
        self.log_id = self.service.log_id
        # The roles' keys, signing with pyca as the host does (the same keys as World's).
        pyca = PycaBackend()
        self.signers = {
            "issuer": Signer(pyca, derive(b"SkI")),
            "ca": Signer(pyca, derive(b"SkT")),
            "operator": Signer(pyca, derive(b"SkO")),
        }
        # No per-client read limit: a test reads as fast as it runs (test_logger_roles.py
        # tests the limit on an app of its own).
        self.app = build_app(
            self.service, operators=[self.signers["operator"].public_key], read_rate=0
        )
        self.http = TestClient(self.app, base_url="http://logger")
        self.http.__enter__()
        self.client = LoggerClient(
            logger_key=self.logger.public_key, http=self.http, signers=self.signers
        )

    def operator_private(self):
        """The operator's key as pyca's object, to open a sealed session with."""
        from cryptography.hazmat.primitives.asymmetric import ec

        return ec.derive_private_key(int.from_bytes(derive(b"SkO"), "big"), ec.SECP256R1())

    def auth(self, role="operator"):
        """An httpx auth that signs requests as `role` does (access/signature.py)."""
        return RequestSigning(self.signers[role])

    def advance(self, seconds):
        """Move the logger's clock (its L-time) forward."""
        self.offset += seconds

    def close(self):
        self.http.__exit__(None, None, None)
        self.storage.close()

    def stamp_for(self, card, counter=None, ltime=None):
        """The logger service's stamp (it signs at its own L-time; `ltime` is not for it)."""
        if ltime is not None:
            raise ValueError("the logger service stamps at its own L-time")
        info = card.client.info()
        if card.client.journal():
            self.client.upload_journal(card.client.journal())
        return self.client.stamp(info.card_id, info.counter if counter is None else counter)

    def load(self, card, amount):
        """Every voucher the issuer signs also goes to the logger (the issuer feed)."""
        balance = super().load(card, amount)
        self.client.publish_voucher(card.last_voucher)
        return balance
