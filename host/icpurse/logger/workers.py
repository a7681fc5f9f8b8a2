"""Worker processes for the logger, each spoken to over a pipe of its own, with no helper
threads in the service.

concurrent.futures.ProcessPoolExecutor moves every call through two threads of the calling
process, a queue feeder and a result manager, and every hand-over between them takes the
interpreter's lock that the event loop and the sequencer need. Measured under single-record
submissions, those threads took about 130 µs of the service's CPU a record. Here a call is one
pickled message each way: the event loop waits for the answer with a reader on the pipe
(`submit`), and the sequencer's thread simply blocks on it (`call_all`).

A worker runs `setup(*args)` once and then answers each request with the handler it returned.
Every worker watches its parent and leaves when the service is gone (SIGKILL, a power cut).
A worker that dies fails the calls it had; the next call finds a new worker in its place.
"""

import asyncio
import multiprocessing
import os
import pickle
import threading
import time

# How often a worker checks that the service that started it is still alive.
PARENT_POLL_SECONDS = 0.5
START_TIMEOUT = 60


class WorkerDied(Exception):
    """A worker process died (killed, out of memory) before it answered."""


class WorkerFailed(Exception):
    """The handler raised an exception in the worker (named here, without its arguments)."""


def watch_parent():
    """In a worker process: exit when the service that started it is gone, rather than live on
    as an orphan."""
    threading.Thread(target=_watch, args=(os.getppid(),), daemon=True).start()


def _watch(parent):
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


def _serve(conn, setup, args):
    watch_parent()
    handler = setup(*args)
    conn.send_bytes(b"ready")
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            answer = (True, handler(pickle.loads(request)))  # noqa: S301 - from our parent.
        except Exception as exc:  # noqa: BLE001 - reported to the caller, which decides.
            answer = (False, exc.__class__.__name__)
        conn.send_bytes(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))


class _Worker:
    def __init__(self, setup, args):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe(duplex=True)
        # A fresh interpreter (spawn, not fork) imports only what the handler needs and
        # inherits none of the service's threads or their locks.
        self.process = context.Process(target=_serve, args=(child, setup, args), daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self):
        if not self.conn.poll(START_TIMEOUT) or self.conn.recv_bytes() != b"ready":
            raise WorkerDied("a worker process did not start")

    def receive(self):
        try:
            ok, value = pickle.loads(self.conn.recv_bytes())  # noqa: S301 - from our child.
        except (EOFError, OSError):
            raise WorkerDied("worker process %d died" % self.process.pid) from None
        if not ok:
            raise WorkerFailed(value)
        return value

    def stop(self):
        self.conn.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class Workers:
    """`count` worker processes running `setup(*args)`'s handler; use them either from one
    event loop (`submit`) or from one thread (`call_all`), not both."""

    def __init__(self, count, setup, args=()):
        self._setup = setup
        self._args = args
        self._workers = [None] * count
        self._idle = None
        self._lock = threading.Lock()
        self.started = False

    def __len__(self):
        return len(self._workers)

    def start(self):
        """Start every worker and wait until each has run its setup (blocking); the first
        call does it if nobody did."""
        with self._lock:
            if self.started:
                return
            for i in range(len(self._workers)):
                self._workers[i] = _Worker(self._setup, self._args)
            for worker in self._workers:
                worker.wait_ready()
            self.started = True

    def _replace(self, i):
        self._workers[i].stop()
        self._workers[i] = _Worker(self._setup, self._args)
        self._workers[i].wait_ready()

    async def submit(self, request):
        """The handler's answer to `request`, from the next idle worker."""
        loop = asyncio.get_running_loop()
        if not self.started:
            await loop.run_in_executor(None, self.start)
        if self._idle is None:
            self._idle = asyncio.Queue()
            for i in range(len(self._workers)):
                self._idle.put_nowait(i)
        i = await self._idle.get()
        worker = self._workers[i]
        answer = loop.create_future()
        fd = worker.conn.fileno()
        loop.add_reader(fd, _answered, loop, fd, worker, answer)
        try:
            worker.conn.send_bytes(pickle.dumps(request, pickle.HIGHEST_PROTOCOL))
        except OSError:
            loop.remove_reader(fd)
            answer.set_exception(WorkerDied("worker process %d died" % worker.process.pid))
        try:
            result = await asyncio.shield(answer)
        except asyncio.CancelledError:
            # The answer is still on its way: the worker is idle again only once it is read,
            # so that the next request never reads this one's answer.
            answer.add_done_callback(lambda _: self._idle.put_nowait(i))
            raise
        except WorkerDied:
            # Its calls fail (the client may retry); the next call gets a new worker.
            try:
                await loop.run_in_executor(None, self._replace, i)
            finally:
                self._idle.put_nowait(i)
            raise
        except BaseException:
            self._idle.put_nowait(i)
            raise
        self._idle.put_nowait(i)
        return result

    def call_all(self, requests):
        """Answers to `requests` (at most one per worker), sent to all workers at once and
        awaited on the calling thread."""
        if len(requests) > len(self._workers):
            raise ValueError("more requests than workers")
        self.start()
        sent = []
        dead = []
        for i, request in enumerate(requests):
            try:
                self._workers[i].conn.send_bytes(pickle.dumps(request, pickle.HIGHEST_PROTOCOL))
            except OSError:
                dead.append(i)
                break
            sent.append(i)
        # Every answer sent for is read, even after a failure, so that no pipe is left holding
        # an answer that the next call would take for its own.
        answers = []
        failure = None
        for i in sent:
            try:
                answers.append(self._workers[i].receive())
            except WorkerDied:
                dead.append(i)
            except WorkerFailed as exc:
                failure = exc
        if dead:
            for i in dead:
                self._replace(i)
            raise WorkerDied("a worker process died")
        if failure is not None:
            raise failure
        return answers

    def pids(self):
        return [w.process.pid for w in self._workers if w is not None]

    def close(self):
        for worker in self._workers:
            if worker is not None:
                worker.stop()


def _answered(loop, fd, worker, answer):
    loop.remove_reader(fd)
    # Read the answer even if nobody waits for it any more (see submit).
    try:
        value = worker.receive()
    except (WorkerDied, WorkerFailed) as exc:
        if not answer.done():
            answer.set_exception(exc)
        return
    if not answer.done():
        answer.set_result(value)
