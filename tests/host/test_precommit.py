"""The pre-commit configuration is valid and runs the same checks as `make lint`, with the
tools of the project's own environment."""

import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".pre-commit-config.yaml"


def test_the_configuration_is_valid():
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(CONFIG)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_hook_is_a_check_make_lint_runs():
    hooks = [h for repo in yaml.safe_load(CONFIG.read_text())["repos"] for h in repo["hooks"]]
    lint = (ROOT / "Makefile").read_text()
    for hook in hooks:
        tool = shlex.split(hook["entry"])
        # The hook's program and its first argument (a subcommand or a script) appear in
        # the lint target or in the gen-check target it depends on.
        name = Path(tool[0]).name if tool[0].endswith(("ruff", "codespell")) else tool[1]
        assert name in lint, hook["id"]
