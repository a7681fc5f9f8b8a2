"""`icpurse demo`: the main job, told step by step (icpurse.demo runs it)."""


def _run(args):
    from icpurse import demo

    return demo.run(args)


def add_parser(subparsers):
    p = subparsers.add_parser(
        "demo", help="the main job: three emulated cards pay each other, witnessed by the logger"
    )
    p.set_defaults(handler=_run)
