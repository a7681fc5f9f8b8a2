"""Worker processes for the logger, each spoken to over a socket pair of its own, with no
helper threads in the service.

concurrent.futures.ProcessPoolExecutor moves every call through two threads of the calling
process, a queue feeder and a result manager, and every hand-over between them takes the
interpreter's lock that the event loop and the sequencer need. Measured under single-record
submissions, those threads took about 130 µs of the service's CPU a record. Here a call is one
pickled message each way, framed by a 4-byte length. From the event loop (`submit`) the socket
is an asyncio transport, so nothing blocks the loop, and several requests may wait in a
worker's socket so that it never idles while the loop is busy (the verifiers, and the
appender process, whose batches the sequencer awaits); from a thread (`call_all`: an
appender's receipt signers) the socket simply blocks.

A worker runs `setup(*args)` once and then answers each request with the handler it returned.
On Linux it takes the pool's name as its process name (/proc/PID/comm), so that ps and top
show "icpurse-verify" or "icpurse-sign" rather than a row of "python", and `icpurse bench
logger` can say which part of the service the CPU went to. Every worker watches its parent
and leaves when the service is gone (SIGKILL, a power cut). A worker that dies fails the
calls it had; a new worker takes its place.
"""

import asyncio
import collections
import multiprocessing
import os
import pickle
import signal
import socket
import struct
import threading
import time

# How often a worker checks that the service that started it is still alive.
PARENT_POLL_SECONDS = 0.5
START_TIMEOUT = 60
_HEADER = struct.Struct("!I")


class WorkerDied(Exception):
    """A worker process died (killed, out of memory) before it answered."""


class WorkerFailed(Exception):
    """The handler raised an exception in the worker: named here, without its arguments, as
    those may hold what must not leave the worker (a key); an exception class that sets
    MESSAGE_IS_PUBLIC also carries its message."""


def describe(exc):
    """How a failure is named outside the process that raised it (see WorkerFailed)."""
    if getattr(exc, "MESSAGE_IS_PUBLIC", False):
        return "%s: %s" % (exc.__class__.__name__, exc)
    return exc.__class__.__name__


def watch_parent():
    """In a worker process: exit when the service that started it is gone, rather than live on
    as an orphan."""
    threading.Thread(target=_watch, args=(os.getppid(),), daemon=True).start()


def _watch(parent):
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


def name_process(name):
    """Set this process's name as ps and top show it, where the system allows (Linux); the
    kernel keeps the first 15 bytes."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass  # Not Linux, or /proc is not mounted: the name is only a convenience.


def _frame(value):
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _receive_exactly(sock, size):
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        count = sock.recv_into(view[got:])
        if count == 0:
            raise EOFError("the other end closed the socket")
        got += count
    return buf


def _receive(sock):
    (size,) = _HEADER.unpack(_receive_exactly(sock, _HEADER.size))
    return pickle.loads(_receive_exactly(sock, size))  # noqa: S301 - between our processes.


def _serve(sock, setup, args, name):
    if name:
        name_process(name)
    # Ctrl-C in a terminal, and the SIGTERM a service manager such as systemd sends, reach the
    # whole process group. A worker leaves when the service closes its socket or is gone, not on
    # its own: the service is still answering the requests in flight, which need it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    watch_parent()
    handler = setup(*args)
    sock.sendall(_frame("ready"))
    while True:
        try:
            request = _receive(sock)
        except (EOFError, OSError):
            return
        try:
            answer = (True, handler(request))
        except Exception as exc:  # noqa: BLE001 - reported to the caller, which decides.
            answer = (False, describe(exc))
        try:
            sock.sendall(_frame(answer))
        except OSError:
            return  # The service is gone or stopping.


def _answer(ok, value):
    if not ok:
        raise WorkerFailed(value)
    return value


class _Worker:
    def __init__(self, setup, args, name):
        context = multiprocessing.get_context("spawn")
        self.sock, child = socket.socketpair()
        # A fresh interpreter (spawn, not fork) imports only what the handler needs and
        # inherits none of the service's threads or their locks.
        self.process = context.Process(target=_serve, args=(child, setup, args, name), daemon=True)
        self.process.start()
        child.close()
        self.transport = None
        self.dead = False

    def wait_ready(self):
        self.sock.settimeout(START_TIMEOUT)
        try:
            if _receive(self.sock) != "ready":
                raise WorkerDied("a worker process did not start")
        except (EOFError, OSError):
            raise WorkerDied("a worker process did not start") from None
        self.sock.settimeout(None)

    def receive(self):
        try:
            ok, value = _receive(self.sock)
        except (EOFError, OSError):
            raise WorkerDied("worker process %d died" % self.process.pid) from None
        return _answer(ok, value)

    def abandon(self):
        """Stop a worker that never became ready: its setup may never end."""
        self.sock.close()
        self.process.kill()
        self.process.join()

    def stop(self):
        # Shutting the connection down reaches the worker at once, even where the event loop's
        # transport holds a duplicate of the socket and would close it only on a later turn.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # Already closed, or the worker is gone.
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.transport.close()
            except RuntimeError:
                pass  # Its event loop has closed, and the socket with it.
        self.sock.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class _Answers(asyncio.Protocol):
    """The event loop's side of one worker's socket: answers resolve the futures of the
    requests in the order they were sent."""

    def __init__(self, worker, lost):
        self.worker = worker
        self.lost = lost
        self.pending = collections.deque()
        self.buffer = bytearray()

    def data_received(self, data):
        self.buffer += data
        while len(self.buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer)
            end = _HEADER.size + size
            if len(self.buffer) < end:
                return
            ok, value = pickle.loads(self.buffer[_HEADER.size : end])  # noqa: S301 - our child.
            del self.buffer[:end]
            # A cancelled caller cancelled only its future: its answer is read and dropped.
            future = self.pending.popleft()
            if not future.done():
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(WorkerFailed(value))

    def connection_lost(self, exc):
        self.lost(self.worker, self)


class Workers:
    """`count` worker processes running `setup(*args)`'s handler, named `name` (name_process);
    use them either from one event loop (`submit`) or from one thread (`call_all`), not both."""

    def __init__(self, count, setup, args=(), name=None):
        self._setup = setup
        self._args = args
        self._name = name
        self._workers = [None] * count
        self._protocols = {}
        self._replacing = {}
        # Places whose last replacement failed to start.
        self._broken = set()
        self._connecting = None
        self._lock = threading.Lock()
        self.started = False

    def start(self):
        """Start every worker and wait until each has run its setup (blocking); the first
        call does it if nobody did."""
        with self._lock:
            if self.started:
                return
            for i in range(len(self._workers)):
                self._workers[i] = _Worker(self._setup, self._args, self._name)
            try:
                for worker in self._workers:
                    worker.wait_ready()
            except WorkerDied:
                # None is left behind, such as one whose setup hangs (a database that does not
                # answer); the next call starts them all again.
                for worker in self._workers:
                    worker.abandon()
                raise
            self.started = True

    def _replace(self, i):
        self._workers[i].stop()
        worker = _Worker(self._setup, self._args, self._name)
        try:
            worker.wait_ready()
        except WorkerDied:
            # The dead worker stays in its place, and the next call tries again.
            worker.abandon()
            self._broken.add(i)
            raise
        self._broken.discard(i)
        self._workers[i] = worker

    # --- from an event loop ---------------------------------------------------------------

    async def submit(self, request):
        """The handler's answer to `request`, from the worker with the fewest requests
        waiting. Callers limit how many they send at once."""
        loop = asyncio.get_running_loop()
        if not self.started:
            await loop.run_in_executor(None, self.start)
        for i in self._broken - set(self._replacing):
            self._start_replacing(loop, i)
        if not any(not w.dead for w in self._workers) and self._replacing:
            await asyncio.gather(*self._replacing.values())
        if any(w.transport is None and not w.dead for w in self._workers):
            await self._connect(loop)
        candidates = [w for w in self._workers if not w.dead and w.transport is not None]
        if not candidates:
            raise WorkerDied("no worker process is running")
        worker = min(candidates, key=lambda w: len(self._protocols[w].pending))
        answer = loop.create_future()
        self._protocols[worker].pending.append(answer)
        worker.transport.write(_frame(request))
        return await answer

    async def _connect(self, loop):
        """Put each new worker's socket under the event loop, once: two transports on one
        socket would each take the other's answers."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            for worker in self._workers:
                if worker.dead or worker.transport is not None:
                    continue
                worker.sock.setblocking(False)
                transport, protocol = await loop.connect_accepted_socket(
                    lambda w=worker: _Answers(w, self._lost), worker.sock
                )
                self._protocols[worker] = protocol
                worker.transport = transport

    def _lost(self, worker, protocol):
        """A worker's socket closed: it died, or the pool is closing. Its calls fail (their
        clients may retry) and, unless closing, a new worker takes its place."""
        self._protocols.pop(worker, None)
        while protocol.pending:
            answer = protocol.pending.popleft()
            if not answer.done():
                answer.set_exception(WorkerDied("worker process %d died" % worker.process.pid))
        if worker.dead or worker not in self._workers:
            return
        worker.dead = True
        self._start_replacing(asyncio.get_running_loop(), self._workers.index(worker))

    def _start_replacing(self, loop, i):
        replacing = loop.run_in_executor(None, self._replace, i)
        self._replacing[i] = replacing
        replacing.add_done_callback(lambda future: self._replaced(i, future))

    def _replaced(self, i, future):
        self._replacing.pop(i, None)
        if not future.cancelled():
            # Retrieved here, so that a replacement nobody waited for is not reported as an
            # unhandled error; a submit that waited has raised it already.
            future.exception()

    # --- from one thread ------------------------------------------------------------------

    def call_all(self, requests):
        """Answers to `requests` (at most one per worker), sent to all workers at once and
        awaited on the calling thread."""
        if len(requests) > len(self._workers):
            raise ValueError("more requests than workers")
        self.start()
        for i in sorted(self._broken):
            self._replace(i)
        sent = []
        dead = []
        for i, request in enumerate(requests):
            try:
                self._workers[i].sock.sendall(_frame(request))
            except OSError:
                dead.append(i)
                break
            sent.append(i)
        # Every answer sent for is read, even after a failure, so that no socket is left
        # holding an answer that the next call would take for its own.
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
                worker.dead = True
                worker.stop()
