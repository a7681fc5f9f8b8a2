"""The logger's worker processes (icpurse.logger.workers): answers come back to the call that
asked, a handler's exception fails only its call, and a dead worker is replaced."""

import asyncio
import multiprocessing
import os
import signal

import pytest
import uvloop

from icpurse.logger import workers as workers_module
from icpurse.logger.workers import WorkerDied, WorkerFailed, Workers


def _echo_setup(prefix):
    def handle(request):
        if request == "fail":
            raise ValueError("a secret argument that must not travel back")
        if isinstance(request, tuple) and request[0] == "sleep":
            import time

            time.sleep(request[1])
            return "slept"
        return prefix + request

    return handle


def test_calls_from_a_thread_get_their_own_answers_and_failures():
    workers = Workers(2, _echo_setup, ("w:",))
    try:
        assert workers.call_all(["a", "b"]) == ["w:a", "w:b"]
        assert workers.call_all(["c"]) == ["w:c"]
        with pytest.raises(WorkerFailed) as failed:
            workers.call_all(["d", "fail"])
        assert str(failed.value) == "ValueError"
        # The failed call's partner answer was read, so the next answers are this call's.
        assert workers.call_all(["e", "f"]) == ["w:e", "w:f"]
        with pytest.raises(ValueError):
            workers.call_all(["x", "y", "z"])
    finally:
        workers.close()


def _run_on(loop_kind, coroutine):
    """Run on asyncio's own event loop or on uvloop's, which the service runs on."""
    if loop_kind == "asyncio":
        return asyncio.run(coroutine)
    loop = uvloop.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_many_large_calls_in_flight_come_back_whole_and_in_order(loop_kind):
    """Requests and answers larger than a socket's buffer arrive in pieces; several requests
    wait in one worker's socket at once."""

    async def run():
        workers = Workers(2, _echo_setup, ("w:",))
        try:
            requests = ["%d:" % i + "x" * (300000 + i) for i in range(12)]
            return requests, await asyncio.gather(*(workers.submit(r) for r in requests))
        finally:
            workers.close()

    requests, answers = _run_on(loop_kind, run())
    assert answers == ["w:" + r for r in requests]


def test_a_cancelled_call_does_not_hand_its_answer_to_the_next():
    async def run():
        workers = Workers(1, _echo_setup, ("w:",))
        try:
            slow = asyncio.ensure_future(workers.submit(("sleep", 0.3)))
            await asyncio.sleep(0.1)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            return await workers.submit("next")
        finally:
            workers.close()

    assert asyncio.run(run()) == "w:next"


def test_a_worker_killed_between_calls_is_replaced():
    async def run():
        workers = Workers(1, _echo_setup, ("w:",))
        try:
            assert await workers.submit("a") == "w:a"
            os.kill(workers.pids()[0], signal.SIGKILL)
            with pytest.raises(WorkerDied):
                await workers.submit("b")
            return await workers.submit("c")
        finally:
            workers.close()

    assert asyncio.run(run()) == "w:c"


def _hanging_setup(marker):
    """A setup that never ends once `marker` exists, as one whose database does not answer."""
    import time

    while os.path.exists(marker):
        time.sleep(0.1)
    return str


def test_a_worker_whose_setup_hangs_is_not_left_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(workers_module, "START_TIMEOUT", 1)
    marker = tmp_path / "hang"
    marker.touch()
    workers = Workers(1, _hanging_setup, (str(marker),))
    try:
        with pytest.raises(WorkerDied):
            workers.start()
        assert multiprocessing.active_children() == []
        # Once the setup works again, the next call starts the workers.
        marker.unlink()
        assert workers.call_all([5]) == ["5"]
        # A replacement whose setup hangs is stopped too, and the call after it tries again.
        marker.touch()
        os.kill(workers.pids()[0], signal.SIGKILL)
        with pytest.raises(WorkerDied):
            workers.call_all([6])
        assert multiprocessing.active_children() == []
        marker.unlink()
        assert workers.call_all([7]) == ["7"]
    finally:
        workers.close()


def test_from_the_event_loop_a_replacement_that_hung_is_tried_again(tmp_path, monkeypatch):
    monkeypatch.setattr(workers_module, "START_TIMEOUT", 1)
    marker = tmp_path / "hang"

    async def run():
        workers = Workers(1, _hanging_setup, (str(marker),))
        try:
            assert await workers.submit(5) == "5"
            marker.touch()
            os.kill(workers.pids()[0], signal.SIGKILL)
            with pytest.raises(WorkerDied):
                await workers.submit(6)
            # With no worker alive, a call waits for the replacement: this one hangs, is
            # stopped, and the call fails; none is left behind.
            while workers._replacing:
                await asyncio.sleep(0.1)
            with pytest.raises(WorkerDied):
                await workers.submit(6)
            assert multiprocessing.active_children() == []
            # The next call tries again, and once the setup works, it is answered.
            marker.unlink()
            return await workers.submit(7)
        finally:
            workers.close()

    assert asyncio.run(run()) == "7"
