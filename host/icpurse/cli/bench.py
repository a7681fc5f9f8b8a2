"""`icpurse bench ...`: benchmarks. One sub-command per measured area."""

import argparse
import sys

from icpurse.cli import argtypes
from purse import proto

_positive = argtypes.count(1)


def _crypto(args):
    from icpurse.bench import crypto as bench_crypto

    return bench_crypto.run(args)


def _logger(args):
    from icpurse.bench import logger as bench_logger

    return bench_logger.run(args)


_COUNT_OPTIONS = ("modes", "smoke", "baseline", "save", "jobs", "keep")


def _transfer(args):
    given = [name for name in _COUNT_OPTIONS if getattr(args, name) not in (None, False)]
    if given and not args.instructions:
        sys.exit(
            "icpurse bench transfer: --%s goes with --instructions" % given[0].replace("_", "-")
        )
    if args.smoke and args.modes is not None:
        sys.exit("icpurse bench transfer: --smoke counts mode 1 only; leave out --modes")
    if args.instructions:
        from icpurse.bench import instructions

        return instructions.run(args)
    from icpurse.bench import transfer as bench_transfer

    return bench_transfer.run(args)


def _modes(text):
    """A comma-separated list of seal modes (docs/PROTOCOL.md), each once."""
    parts = text.split(",")
    if not all(p.strip().isdigit() and int(p) in proto.SEAL_MODES for p in parts):
        raise argparse.ArgumentTypeError(
            "%r is not a list of seal modes: give some of %s, separated by commas"
            % (text, ",".join(str(m) for m in proto.SEAL_MODES))
        )
    modes = [int(p) for p in parts]
    if len(set(modes)) != len(modes):
        raise argparse.ArgumentTypeError("%r names a seal mode twice" % text)
    return modes


def _firmware(args):
    from icpurse.bench import firmware as bench_firmware

    return bench_firmware.run(args)


def _startup(args):
    from icpurse.bench import startup as bench_startup

    return bench_startup.run(args)


def add_parser(subparsers):
    parser = subparsers.add_parser("bench", help="run benchmarks")
    areas = parser.add_subparsers(dest="area", metavar="AREA", title="areas")
    crypto = areas.add_parser(
        "crypto",
        help="P-256 sign/verify: field multiplications, CPython, MicroPython, pyca, heap",
    )
    crypto.add_argument(
        "--rounds", type=_positive, default=50, help="timed runs per operation (default 50)"
    )
    crypto.set_defaults(handler=_crypto)
    logger = areas.add_parser(
        "logger",
        help="logger service on loopback: records/s and latency, SQLite and PostgreSQL",
    )
    logger.add_argument(
        "--records",
        type=_positive,
        default=16000,
        help="records in each of the throughput and single-record loads (default 16000)",
    )
    logger.add_argument(
        "--batch", type=_positive, default=200, help="records per batch request (default 200)"
    )
    logger.add_argument(
        "--clients", type=_positive, default=8, help="concurrent batch clients (default 8)"
    )
    logger.add_argument(
        "--warmup", type=argtypes.count(0), default=2000,
        help="records sent before the measured loads, not measured (default 2000)",
    )  # fmt: skip
    logger.add_argument(
        "--latency-bound", type=_positive, default=50, metavar="MS",
        help="the p99 latency, in ms, under which the latency search looks for the fastest"
        " batched load (default 50)",
    )  # fmt: skip
    logger.add_argument(
        "--latency-requests", type=_positive, default=200,
        help="requests in each load of the latency search (default 200, of which the p99 is"
        " the second-slowest)",
    )  # fmt: skip
    logger.add_argument(
        "--single-clients", type=_positive, default=32,
        help="concurrent clients submitting one record per request (default 32)",
    )  # fmt: skip
    logger.add_argument(
        "--sequencer", choices=("process", "thread"), default="process",
        help="where the service appends batches (logger serve --sequencer; default process)",
    )  # fmt: skip
    logger.add_argument(
        "--pg-workers",
        type=_positive,
        default=2,
        help="service workers against PostgreSQL (default 2)",
    )
    logger.add_argument(
        "--sqlite-workers",
        type=_positive,
        default=1,
        help="service workers against SQLite (default 1)",
    )
    logger.add_argument(
        "--duration", type=argtypes.duration, metavar="SECONDS",
        help="instead of the usual loads, hold one batched load (--batch x --clients) this long"
        " on each database and print records/s per interval: whether the pace holds as the"
        " tables grow",
    )  # fmt: skip
    logger.add_argument(
        "--interval", type=argtypes.duration, default=2.0, metavar="SECONDS",
        help="the intervals of --duration (default 2)",
    )  # fmt: skip
    logger.add_argument(
        "--ledger-readers", type=argtypes.count(0, 64), default=0, metavar="N",
        help="with --duration: N clients reading GET /v1/ledger in a loop in every other "
        "interval, and the appends beside them compared with those of the intervals without "
        "them: what an operator's reads cost (default 0)",
    )  # fmt: skip
    logger.add_argument(
        "--read-rate", type=argtypes.rate, default=0, metavar="N",
        help="with --ledger-readers: the logger's per-client limit on expensive reads (`logger "
        "serve --read-rate`; default 0, no limit: the readers read as fast as they can, the "
        "worst case; the service's default is 20)",
    )  # fmt: skip
    logger.set_defaults(handler=_logger)
    transfer = areas.add_parser(
        "transfer",
        help="one transfer between emulated cards over ptys: CPython, MicroPython, heap",
    )
    transfer.add_argument(
        "--rounds", type=_positive, default=5, help="transfers to time (default 5)"
    )
    counted = transfer.add_argument_group(
        "instruction counts (--instructions)",
        "x86-64 instructions of the MicroPython Unix port under valgrind's callgrind, two cards"
        " in one process: boot to ready, then MAKE CHALLENGE, PAY and ACCEPT of a first and a"
        " repeat transfer in each seal mode, with field multiplications, ratios to a baseline"
        " and estimated seconds on the boards (docs/HARDWARE.md)",
    )
    counted.add_argument(
        "--instructions", action="store_true",
        help="count instructions with callgrind instead of timing the cards over ptys",
    )  # fmt: skip
    counted.add_argument(
        "--modes", type=_modes, metavar="M[,M...]",
        help="the seal modes to count (default: all, %s)"
        % ",".join(str(m) for m in proto.SEAL_MODES),
    )  # fmt: skip
    counted.add_argument(
        "--smoke", action="store_true",
        help="only boot and the first transfer in mode 1 (what CI runs)",
    )  # fmt: skip
    counted.add_argument(
        "--profile", default="esp32s3", metavar="BOARD",
        help="the board profile whose speed settings the cards use (firmware/boards/BOARD.json:"
        " anchor_spans, peer_spans; default esp32s3, the fastest; esp32 is the classic ESP32's)",
    )  # fmt: skip
    counted.add_argument(
        "--baseline", metavar="FILE",
        help="counts saved by --save to print ratios to (default: the committed baseline,"
        " icpurse/bench/baselines/transfer-instructions.json); a missing or unreadable file"
        " prints 'baseline unavailable' and the table without ratios",
    )  # fmt: skip
    counted.add_argument(
        "--save", metavar="FILE", help="write the counts to FILE (JSON), for a later --baseline"
    )
    counted.add_argument(
        "--jobs", type=argtypes.count(1, 64), metavar="N",
        help="callgrind runs at once (default: the number of CPUs)",
    )  # fmt: skip
    counted.add_argument(
        "--keep", metavar="DIR",
        help="keep each run's callgrind output in DIR, for callgrind_annotate",
    )  # fmt: skip
    transfer.set_defaults(handler=_transfer)
    firmware = areas.add_parser(
        "firmware", help="flash footprint of the wallet (.py and .mpy) and a card's heap at boot"
    )
    firmware.set_defaults(handler=_firmware)
    startup = areas.add_parser(
        "startup", help="`icpurse --help` start-up against `python -c pass`, and its imports"
    )
    startup.add_argument(
        "--rounds", type=_positive, default=21, help="runs of each command (default 21)"
    )
    startup.set_defaults(handler=_startup)
    parser.set_defaults(handler=lambda args: parser.print_help())
