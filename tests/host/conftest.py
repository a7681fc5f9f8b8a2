"""Fixtures of the host tests."""

import pytest
from bank import Bank
from logger_fixtures import LoggerWorld, drop_schema, postgres_url


@pytest.fixture
def bank(tmp_path):
    """A whole deployment: authorities, a logger process, emulated cards (tests/host/bank.py)."""
    b = Bank(tmp_path)
    yield b
    b.close()


@pytest.fixture(params=["sqlite", "sqlite-appender-process", "postgresql"])
def logger_world(request, tmp_path):
    """A logger on SQLite, on SQLite with its appends in a process of their own (as `logger
    serve` runs by default), and on PostgreSQL."""
    if request.param != "postgresql":
        world = LoggerWorld(
            "sqlite:///%s" % (tmp_path / "log.db"), sequencer_process=request.param != "sqlite"
        )
        yield world
        world.close()
        return
    url, schema = postgres_url()
    world = LoggerWorld(url)
    try:
        yield world
    finally:
        world.close()
        drop_schema(schema)
