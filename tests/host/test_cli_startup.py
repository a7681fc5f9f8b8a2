"""The command line starts without the libraries its commands use: `icpurse --help`, every
command's help and a usage error import no cryptography, web, database or serial library and
none of the logger, the authorities or the terminal, which each command imports when it runs.
(How long start-up takes is measured by `icpurse bench startup`, not asserted here.)"""

import json
import subprocess
import sys

import pytest

from icpurse.cli import build_parser

# Top-level names of modules that only running a command may import.
HEAVY = (
    "cryptography", "starlette", "uvicorn", "httpx2", "httptools", "psycopg", "psycopg_pool",
    "serial", "mpremote", "asyncio", "sqlite3",
    "icpurse.logger.service", "icpurse.logger.storage", "icpurse.logger.client",
    "icpurse.authority.keys", "icpurse.authority.ca", "icpurse.authority.issuer",
    "icpurse.seriallink", "icpurse.terminal", "icpurse.crypto_pyca", "icpurse.demo",
    "purse.client", "purse.crypto", "icpurse.firmware_files",
)  # fmt: skip

_SCRIPT = """
import json, sys
from icpurse.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _commands():
    """Every command and sub-command path the parser knows, such as ("logger", "serve")."""
    paths = []

    def walk(parser, path):
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                for name, sub in action.choices.items():
                    paths.append((*path, name))
                    walk(sub, (*path, name))

    walk(build_parser(), ())
    return paths


def _imported(argv):
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *argv], capture_output=True, text=True, check=False
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


def _heavy(modules):
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("path", [(), *_commands()], ids=lambda p: " ".join(p) or "icpurse")
def test_help_imports_no_command_library(path):
    assert _heavy(_imported([*path, "--help"])) == []


def test_a_usage_error_imports_no_command_library():
    assert _heavy(_imported(["pay", "--from", "a", "--to", "b", "--amount", "nothing"])) == []


def test_the_list_of_commands_is_walked():
    # The walk finds nested actions too, so a command added later is covered without a change.
    assert ("logger", "serve") in _commands() and ("card", "info") in _commands()
