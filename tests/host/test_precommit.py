"""The pre-commit configuration is valid and runs the same checks as `make lint`, with the
tools of the project's own environment; the commit-message check says what is wrong."""

import shlex
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from check_commit_msg import problems

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
        if hook.get("stages") == ["commit-msg"]:
            continue
        tool = shlex.split(hook["entry"])
        # The hook's program and its first argument (a subcommand or a script) appear in
        # the lint target or in the gen-check target it depends on.
        name = Path(tool[0]).name if tool[0].endswith(("ruff", "codespell")) else tool[1]
        assert name in lint, hook["id"]


def test_a_short_subject_with_a_body_passes():
    assert problems("Lazy imports for --help\n\nBecause every command paid 0.2 s.\n") == []


def test_a_long_subject_and_no_body_are_named():
    found = problems("x" * 73 + "\n")
    assert len(found) == 2
    assert "73 characters" in found[0] and "body" in found[1]


def test_comments_and_merges():
    assert problems("# only a comment\n") == ["the subject line is empty"]
    assert problems("Merge branch 'wt-pkg'\n") == []
    assert problems("Subject\nno blank line\n") != []
