"""`icpurse bench ...`: benchmarks. One sub-command per measured area; only `crypto` so far."""


def _crypto(args):
    from icpurse import bench_crypto

    return bench_crypto.run(args)


def add_parser(subparsers):
    parser = subparsers.add_parser("bench", help="run benchmarks")
    areas = parser.add_subparsers(dest="area", metavar="AREA", title="areas")
    crypto = areas.add_parser(
        "crypto",
        help="P-256 sign/verify: field multiplications, CPython, MicroPython, pyca, heap",
    )
    crypto.add_argument(
        "--rounds", type=int, default=50, help="timed runs per operation (default 50)"
    )
    crypto.set_defaults(handler=_crypto)
    parser.set_defaults(handler=lambda args: parser.print_help())
