"""The `icpurse` command line: one argparse parser, one sub-command per workflow.

Each sub-command lives in its own module and registers itself through `add_parser(subparsers)`;
this module only assembles them and turns a user error into a clear message and exit status 2.
"""

import argparse
import importlib
import sys

from icpurse import __version__
from icpurse.errors import UsageError

# Modules that each define add_parser(subparsers); one line here adds a command group.
COMMAND_MODULES = (
    "icpurse.cli.authority",
    "icpurse.cli.logger",
    "icpurse.cli.emulate",
    "icpurse.cli.card",
    "icpurse.cli.terminal",
    "icpurse.cli.settle",
    "icpurse.cli.board",
    "icpurse.cli.tap",
    "icpurse.cli.demo",
    "icpurse.cli.bench",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="icpurse",
        description=(
            "IC-card electronic purse whose card-to-card transfers are witnessed by a "
            "third-party log (after JP2000-231595)."
        ),
    )
    parser.add_argument("--version", action="version", version="icpurse %s" % __version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args) or 0
    except UsageError as exc:
        print("icpurse: error: %s" % exc, file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of our output went away (`icpurse ... | head`): not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
