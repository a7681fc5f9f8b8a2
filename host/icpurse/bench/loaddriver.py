"""The load generator's HTTP side for `icpurse bench logger`: keep-alive connections that send
requests encoded before the clock starts and parse the answers with httptools.

The load generator runs on the cores it measures the logger on. A general-purpose client
(aiohttp, httpx) spends about as much CPU on each small request as the logger's HTTP layer does,
which would halve what is left for the logger in the single-record test; this one only writes
bytes and parses status line, headers and body, and it reports the CPU it used.
"""

import asyncio
import json
import time

import httptools


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with one request in flight at a time."""

    def __init__(self):
        self.transport = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = None
        self.body = []

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError("a malformed HTTP answer: %s" % exc))

    def connection_lost(self, exc):
        self._fail(ConnectionError("the logger closed the connection"))

    def on_body(self, body):
        self.body.append(body)

    def on_message_complete(self):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), b"".join(self.body)))
        self.body = []

    def _fail(self, exc):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    async def send(self, request):
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def post_request(host, path, body):
    """The bytes of a POST of the JSON `body` (bytes)."""
    head = (
        "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\n\r\n" % (path, host, len(body))
    )
    return head.encode() + body


def record_requests(host, records, batch):
    """(request, records in it) submitting `records`: one each to /v1/record, or `batch` at a
    time to /v1/records."""
    if batch == 1:
        return [(post_request(host, "/v1/record", json.dumps({"record": r.hex()}).encode()), 1)
                for r in records]  # fmt: skip
    out = []
    for i in range(0, len(records), batch):
        part = records[i : i + batch]
        body = json.dumps({"records": [r.hex() for r in part]}).encode()
        out.append((post_request(host, "/v1/records", body), len(part)))
    return out


def refused_in(status, body, count):
    """Records of a request of `count` that its answer refused. A batch is answered 200 with a
    status per record; any other answer refused the whole request."""
    if status != 200:
        return count
    if body.startswith(b'{"results"'):
        return sum(1 for r in json.loads(body)["results"] if r["status"] != 200)
    return 0


async def drive(host, port, requests, concurrency):
    """Send `requests` (from record_requests) over `concurrency` connections; return (elapsed
    seconds, request latencies, records refused, CPU seconds this process used meanwhile)."""
    loop = asyncio.get_running_loop()
    connections = []
    for _ in range(concurrency):
        _, conn = await loop.create_connection(_Connection, host, port)
        connections.append(conn)
    latencies = []
    refused = 0
    pending = iter(requests)

    async def worker(conn):
        nonlocal refused
        for request, count in pending:
            t0 = time.perf_counter()
            status, body = await conn.send(request)
            latencies.append(time.perf_counter() - t0)
            refused += refused_in(status, body, count)

    cpu = time.process_time()
    start = time.perf_counter()
    try:
        await asyncio.gather(*(worker(conn) for conn in connections))
    finally:
        for conn in connections:
            conn.transport.close()
    return time.perf_counter() - start, latencies, refused, time.process_time() - cpu
