"""`icpurse bench logger --duration S`: one batched load held for S seconds on each database,
with the records stored per interval, to show whether the logger keeps its pace as its tables
grow (a short load hides a decay: a pilot saw PostgreSQL fall from 12,000 records/s over 2 s
to 7,644 over 16 s).

The records are made while the load runs, by a process of their own (the same LoadGenerator
as the other loads), into a bounded queue that is full before the clock starts. On a small
machine that process takes CPU from the logger; the table says how long the clients waited
for it, so an interval the generator starved is not taken for the logger's.
"""

import asyncio
import multiprocessing
import queue as queues
import time

from icpurse.bench.loaddriver import _Connection, record_requests, refused_in
from icpurse.bench.loadgen import LoadGenerator

# Batches the generator keeps ready ahead of the clients.
AHEAD = 64


def _produce(seed, cards, batch, out, stop, log_id):
    gen = LoadGenerator(seed, cards)
    gen.join(log_id)
    while not stop.is_set():
        ((request, count),) = record_requests("127.0.0.1", gen.records(batch), batch)
        while not stop.is_set():
            try:
                out.put((request, count), timeout=0.2)
                break
            except queues.Full:
                continue


class Producer:
    """The record-making process; `vouchers()` for the logger, `get()` for the clients."""

    def __init__(self, seed, cards, batch, log_id):
        """`log_id`: the log of the logger the records go to, which their vouchers name."""
        self.seed, self.cards, self.batch, self.log_id = seed, cards, batch, log_id
        context = multiprocessing.get_context("spawn")
        self.queue = context.Queue(AHEAD)
        self.stop = context.Event()
        self.process = context.Process(
            target=_produce, args=(seed, cards, batch, self.queue, self.stop, log_id),
            daemon=True,
        )  # fmt: skip

    def vouchers(self):
        gen = LoadGenerator(self.seed, self.cards)
        gen.join(self.log_id)
        return gen.vouchers()

    def start(self):
        self.process.start()
        # Full before the clock starts: the first interval does not wait for a cold generator.
        while self.queue.qsize() < AHEAD - 1:
            time.sleep(0.05)

    def close(self):
        self.stop.set()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


async def hold(port, producer, clients, seconds, interval, warmup=0, on_start=None):
    """Send the producer's batches over `clients` connections for `seconds`, after `warmup`
    records not measured (cold caches); returns the intervals as (records stored, refused, p99
    seconds, seconds waited for the generator). `on_start(t)` is told the perf_counter time
    at which the first interval starts."""
    loop = asyncio.get_running_loop()
    connections = [
        (await loop.create_connection(_Connection, "127.0.0.1", port))[1] for _ in range(clients)
    ]
    sent = 0
    while sent < warmup:
        request, count = await loop.run_in_executor(None, producer.queue.get)
        await connections[0].send(request)
        sent += count
    slots = int(seconds / interval + 0.5)
    stored = [0] * slots
    refused = [0] * slots
    latencies = [[] for _ in range(slots)]
    waited = [0.0] * slots
    start = time.perf_counter()
    end = start + seconds
    if on_start is not None:
        on_start(start)

    def slot(t):
        return min(slots - 1, int((t - start) / interval))

    async def client(conn):
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            request, count = await loop.run_in_executor(None, producer.queue.get)
            t1 = time.perf_counter()
            waited[slot(t0)] += t1 - t0
            status, body = await conn.send(request)
            done = time.perf_counter()
            if done >= end:
                return
            bad = refused_in(status, body, count)
            stored[slot(done)] += count - bad
            refused[slot(done)] += bad
            latencies[slot(done)].append(done - t1)

    try:
        await asyncio.gather(*(client(conn) for conn in connections))
    finally:
        for conn in connections:
            conn.transport.close()
    out = []
    for k in range(slots):
        ordered = sorted(latencies[k])
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0
        out.append((stored[k], refused[k], p99, waited[k] / clients))
    return out
