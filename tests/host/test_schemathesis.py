"""schemathesis, which nobody here wrote, against the logger's own /openapi.json on SQLite and
PostgreSQL, with every check it has (issue 22, problem 10: the description accepted what the
service refused in 13 operations). Which refusals a schema-valid request may get, where only
the service can judge (signatures, the tree's size), is declared in schemathesis.toml. The
examples are bounded and the seed fixed, so a CI run takes seconds and repeats exactly."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from logger_fixtures import drop_schema, postgres_url

from icpurse.authority import keys
from icpurse.logger.process import LoggerProcess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLES = 30
SEED = 21022


@pytest.fixture(params=["sqlite", "postgresql"])
def logger(request, tmp_path):
    ca = keys.create(tmp_path / "ca.pem", str(tmp_path / "ca.pem.pub"))
    issuer = keys.create(tmp_path / "issuer.pem", str(tmp_path / "issuer.pem.pub"))
    operator = keys.create(tmp_path / "operator.pem", str(tmp_path / "operator.pem.pub"))
    schema = None
    if request.param == "sqlite":
        db = "sqlite:///%s" % (tmp_path / "log.db")
    else:
        db, schema = postgres_url()
    try:
        # The per-client read limit is off: schemathesis reads as fast as it can.
        extra = ["--operator", operator.hex(), "--read-rate", "0"]
        with LoggerProcess(tmp_path, db, ca, issuer, extra=extra) as server:
            yield server
    finally:
        if schema is not None:
            drop_schema(schema)


def test_the_service_is_what_its_description_says(logger, tmp_path):
    # The hooks sign each request as the role its operation needs (schemathesis_hooks.py).
    env = dict(
        os.environ,
        SCHEMATHESIS_HOOKS="schemathesis_hooks",
        PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        ICPURSE_TEST_ROLE_KEYS=json.dumps(
            {role: str(tmp_path / ("%s.pem" % role)) for role in ("ca", "issuer", "operator")}
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file",
         str(ROOT / "schemathesis.toml"), "run", logger.url + "/openapi.json",
         "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", str(SEED),
         "--no-color"],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=600, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout or " passed" in done.stdout, done.stdout[-2000:]
