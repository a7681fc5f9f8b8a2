"""Fixtures of the host tests."""

import pytest
from logger_fixtures import LoggerWorld, drop_schema, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def logger_world(request, tmp_path):
    if request.param == "sqlite":
        world = LoggerWorld("sqlite:///%s" % (tmp_path / "log.db"))
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
