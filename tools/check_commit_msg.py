"""Check a commit message (pre-commit's commit-msg stage): a subject of at most 72 characters,
then a blank line and a body that says why, unless the subject alone is a merge or a fixup.

    python tools/check_commit_msg.py .git/COMMIT_EDITMSG
"""

import sys
from pathlib import Path

SUBJECT_MAX = 72
# Messages git writes itself, or that a later rebase squashes away.
EXEMPT = ("Merge ", "Revert ", "fixup! ", "squash! ", "amend! ")


def problems(message):
    """What is wrong with `message`, as sentences; empty when nothing is."""
    lines = [line for line in message.splitlines() if not line.startswith("#")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[0].strip():
        return ["the subject line is empty"]
    subject = lines[0]
    found = []
    if len(subject) > SUBJECT_MAX:
        found.append(
            "the subject has %d characters; keep it to %d and put the rest in the body"
            % (len(subject), SUBJECT_MAX)
        )
    if subject.startswith(EXEMPT):
        return found
    if len(lines) < 3 or lines[1].strip():
        found.append("add a body after a blank line that says why the change is made")
    return found


def main(argv):
    if len(argv) != 2:
        print("usage: check_commit_msg.py MESSAGE-FILE", file=sys.stderr)
        return 2
    found = problems(Path(argv[1]).read_text(encoding="utf-8", errors="replace"))
    for text in found:
        print("commit message: %s" % text, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
