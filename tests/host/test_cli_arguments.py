"""Bad command-line values get argparse's usage error (exit status 2) naming the argument and
what it takes, before anything starts: none ends in a traceback from deep inside (a port out
of range, a negative sleep, a heap size MicroPython refuses) or is taken silently."""

import pytest

from icpurse.cli import build_parser
from icpurse.cli.logger import LOG_LEVELS

EMULATE = ["emulate", "--state", "card"]
BARE = ["emulate", "--bare", "board"]
LOGGER = ["logger", "serve", "--key", "logger.pem"]
RECOVER = ["recover", "--card", "0011223344556677", "--new-card", "p", "--ca", "ca", "--issuer",
           "issuer", "--logger", "http://127.0.0.1:8462"]  # fmt: skip

BAD = [
    (LOGGER, ["--port", "99999"], "--port: '99999' is not a whole number from 1 to 65535"),
    (LOGGER, ["--port", "-1"], "--port: '-1' is not a whole number from 1 to 65535"),
    (LOGGER, ["--log-level", "loud"], "--log-level: invalid choice: 'loud'"),
    (EMULATE, ["--tcp", "70000"], "--tcp: '70000' is not a whole number from 1 to 65535"),
    (EMULATE, ["--delay-ms", "-5"], "--delay-ms: '-5' is not a whole number from 0 to 60000"),
    (EMULATE, ["--cut-at", "0"], "--cut-at: '0' is not a whole number of at least 1"),
    (EMULATE, ["--memory-error-at", "-3"], "--memory-error-at: '-3' is not a whole number"),
    (BARE, ["--flash-size", "100"], "--flash-size: '100' is not a whole number"),
    (EMULATE, ["--heap", "lots"], "--heap: 'lots' is not a heap size"),
    (EMULATE, ["--heap", "0K"], "--heap: '0K' is not a heap size"),
    (EMULATE, ["--seed", "zz"], "--seed: 'zz' is not a seed"),
    (EMULATE, ["--seed", "abc"], "--seed: 'abc' is not a seed"),
    (EMULATE, ["--seed", "00" * 65], "is not a seed"),
    (EMULATE, ["--drop", "nan"], "--drop: 'nan' is not a probability from 0 to 1"),
    (EMULATE, ["--corrupt", "1.5"], "--corrupt: '1.5' is not a probability from 0 to 1"),
    (RECOVER, ["--wait", "nan"], "--wait: 'nan' is not a number of seconds"),
    (RECOVER, ["--wait", "inf"], "--wait: 'inf' is not a number of seconds"),
    (RECOVER, ["--wait", "-1"], "--wait: '-1' is not a number of seconds"),
    (["ca", "revoke", "--dir", "ca"], ["--card", "00 11 22 33 44 55 66 77"], "is not a card id"),
    (
        ["flash", "--port", "p"],
        ["--board", "toaster"],
        "--board: 'toaster' is not a board with settings: give one of esp32, ",
    ),
    (["logger", "serve", "--key", "k"], ["--window", "1.5"], "--window: '1.5' is not a window"),
    (["issuer", "risk"], ["--window", "7w"], "--window: '7w' is not a window"),
]


@pytest.mark.parametrize(("command", "values", "message"), BAD,
                         ids=[" ".join(values) for _, values, _ in BAD])  # fmt: skip
def test_a_bad_value_is_a_usage_error(command, values, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, *values])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_log_levels_are_uvicorns():
    import uvicorn.config

    assert set(LOG_LEVELS) == set(uvicorn.config.LOG_LEVELS)


def test_good_values_at_the_edges_are_taken():
    parser = build_parser()
    args = parser.parse_args([*LOGGER, "--port", "65535", "--log-level", "INFO"])
    assert (args.port, args.log_level) == (65535, "info")
    args = parser.parse_args(
        [*EMULATE, "--tcp", "1", "--delay-ms", "0", "--cut-at", "1", "--heap", "160K",
         "--seed", "00FF", "--drop", "1"]
    )  # fmt: skip
    assert (args.tcp, args.delay_ms, args.cut_at, args.heap, args.seed, args.drop) == (
        1, 0, 1, "160K", "00ff", 1.0
    )  # fmt: skip
    assert parser.parse_args([*BARE, "--flash-size", "32768"]).flash_size == 32768
    assert parser.parse_args([*RECOVER, "--wait", "0.5"]).wait == 0.5


def test_every_window_option_takes_the_one_duration_type():
    parser = build_parser()
    risk = ["issuer", "risk", "--balance-cap", "1", "--payment-cap", "1", "--unlogged-cap", "1"]
    assert parser.parse_args([*risk, "--window", "7d"]).window == 7 * 86400
    assert parser.parse_args([*risk, "--window", "12h"]).window == 12 * 3600
    assert parser.parse_args([*LOGGER, "--window", "90s"]).window == 90
    assert parser.parse_args([*LOGGER, "--window", "3600"]).window == 3600
    assert parser.parse_args([*RECOVER, "--wait", "2m"]).wait == 120
    assert parser.parse_args(["card", "info", "p", "--timeout", "1.5"]).timeout == 1.5
