"""Worker processes name themselves, and icpurse.bench.proctree counts the CPU of a process tree by
those names: what `icpurse bench logger` splits the logger's CPU with."""

import os
import signal
import time

import pytest

from icpurse.bench import proctree
from icpurse.logger.workers import WorkerDied, Workers

NAME = "icpurse-test"


def _spin_setup():
    def spin(seconds):
        # CPU time, not wall time: the test counts this process's CPU.
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
        return os.getpid()

    return spin


@pytest.fixture
def linux_proc():
    if not os.path.exists("/proc/self/comm"):
        pytest.skip("process names and CPU times are read from /proc, which this system lacks")


def _group(name):
    return name if name == NAME else "other"


def test_workers_take_their_pool_name_and_their_cpu_is_counted_under_it(linux_proc):
    workers = Workers(2, _spin_setup, (), name=NAME)
    try:
        workers.start()
        assert [proctree.name(pid) for pid in workers.pids()] == [NAME, NAME]
        before = proctree.snapshot(os.getpid())
        assert set(workers.pids()) <= set(before)
        answered = workers.call_all([0.3, 0.3])
        used = proctree.used_by_name(before, proctree.snapshot(os.getpid()), _group)
    finally:
        workers.close()
    assert sorted(answered) == sorted(workers.pids())
    # 0.6 s of CPU spun in the two workers, counted in clock ticks (1/100 s on Linux).
    assert 0.55 <= used[NAME] < 1.5
    # This test process waited meanwhile; it did not spin.
    assert used["other"] < used[NAME]


def test_a_replacement_worker_has_the_name_and_counts_from_zero(linux_proc):
    workers = Workers(1, _spin_setup, (), name=NAME)
    try:
        workers.start()
        before = proctree.snapshot(os.getpid())
        os.kill(workers.pids()[0], signal.SIGKILL)
        # The call that finds the worker dead fails, and a new worker takes its place.
        with pytest.raises(WorkerDied):
            workers.call_all([0.0])
        (pid,) = workers.call_all([0.3])
        after = proctree.snapshot(os.getpid())
    finally:
        workers.close()
    assert pid not in before
    assert after[pid][0] == NAME
    used = proctree.used_by_name(before, after, _group)
    # Its 0.3 s of spinning, and what starting an interpreter took.
    assert 0.25 <= used[NAME] < 2.0


def test_a_process_that_is_not_running_gives_an_empty_snapshot():
    # Process ids are at most 2**22 on Linux; this one cannot exist.
    assert proctree.snapshot(2**22 + 1) == {}
