"""L-time never steps back (issue 22): the logger keeps its high-water mark in the database,
so a wall clock set back, a restart, or another worker never hands out an earlier L-time than
one it signed before."""

import pytest
from logger_fixtures import drop_schema, postgres_url

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.service import LoggerService
from icpurse.logger.storage import open_storage
from purse.crypto.backend import Signer
from purse.records.checkpoint import Checkpoint

T = 2_000_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///%s" % (tmp_path / "log.db")
        return
    url, schema = postgres_url()
    yield url
    drop_schema(schema)


class _Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def _service(url, clock):
    from _example import derive

    signer = Signer(PycaBackend(), derive(b"SkL"))
    ca, issuer = (Signer(PycaBackend(), derive(s)).public_key for s in (b"SkT", b"SkI"))
    return LoggerService(open_storage(url), signer, ca, issuer, clock=clock)


def _signed_ltime(service):
    return Checkpoint.decode(service.checkpoint()).ltime


def test_a_restart_with_the_clock_set_back_keeps_the_ltime(url):
    first = _service(url, _Clock(T))
    assert _signed_ltime(first) == T
    first.close()
    again = _service(url, _Clock(T - 3600))
    try:
        assert again.ltime() == T
        assert _signed_ltime(again) == T
    finally:
        again.close()


def test_a_worker_whose_clock_is_behind_learns_the_ltime_from_the_heartbeat(url):
    ahead, behind = _Clock(T), _Clock(T - 60)
    late = _service(url, behind)  # Started first, with nothing stored yet.
    early = _service(url, ahead)
    try:
        early.heartbeat()
        late.heartbeat()  # Its own heartbeat never lowers the stored mark, and it reads it.
        assert late.ltime() == T
        early.heartbeat()
        assert early.ltime() == T
    finally:
        late.close()
        early.close()
