"""`icpurse bench logger`: durable, fully verified records per second, and latency.

It starts `icpurse logger serve` on loopback (SQLite in a temporary directory, then PostgreSQL
in a fresh schema when a server answers), feeds it valid signed records from concurrent clients
— in batches and one by one — and prints records/s with p50/p99 request latency. In the same
run it measures pyca/cryptography ECDSA verifications per second on one core (the logger checks
one signature S per record; certificates and vouchers are cached), and prints the ratio.
"""

import asyncio
import json
import os
import tempfile
import time
import uuid

import httpx2

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.loadgen import LoadGenerator
from icpurse.logger.process import LoggerProcess
from icpurse.progress import progress

PG_URL = os.environ.get("ICPURSE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def verifications_per_second(gen, seconds=1.0):
    """pyca ECDSA P-256 verifications/s on this core, on the records' own signatures."""
    from purse.records.log import LogRecord

    backend = PycaBackend()
    items = []
    for data in gen.records(200):
        payment = LogRecord.decode(data).payment
        items.append((payment.certificate.public_key, payment.signed_bytes(), payment.signature))
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for key, message, signature in items:
            backend.verify(key, message, signature)
        done += len(items)
    return done / (time.perf_counter() - start)


async def _drive(url, records, batch, concurrency):
    """Submit `records` in requests of `batch` from `concurrency` clients; return
    (elapsed seconds, request latencies, records refused).

    The request bodies are encoded before the clock starts, and the client is aiohttp: the load
    generator shares the machine's cores with the logger, so it should take little of them.
    """
    import aiohttp

    if batch == 1:
        path = "/v1/record"
        bodies = [json.dumps({"record": r.hex()}).encode() for r in records]
    else:
        path = "/v1/records"
        bodies = [
            json.dumps({"records": [r.hex() for r in records[i : i + batch]]}).encode()
            for i in range(0, len(records), batch)
        ]
    latencies = []
    refused = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout) as session:
        pending = iter(bodies)

        async def worker():
            nonlocal refused
            for body in pending:
                t0 = time.perf_counter()
                async with session.post(path, data=body, headers=headers) as answer:
                    result = await answer.json()
                latencies.append(time.perf_counter() - t0)
                if batch == 1:
                    refused += answer.status != 200
                else:
                    refused += sum(1 for r in result["results"] if r["status"] != 200)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies, refused


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _run_one(name, db, gen, records, args, workers=1):
    with tempfile.TemporaryDirectory() as tmp:
        server = LoggerProcess(tmp, db, gen.ca.public_key, gen.issuer.public_key, workers)
        with server:
            feed = httpx2.Client(base_url=server.url)
            for voucher in gen.vouchers():
                feed.post("/v1/vouchers", json={"voucher": voucher.hex()})
            rows = []
            half = len(records) // 2
            for label, part, batch, conc in (
                ("batch %d x %d clients" % (args.batch, args.clients), records[:half],
                 args.batch, args.clients),
                ("single x %d clients" % (args.clients * 4), records[half:], 1, args.clients * 4),
            ):  # fmt: skip
                progress("%s: %s, %d records" % (name, label, len(part)))
                elapsed, latencies, refused = asyncio.run(_drive(server.url, part, batch, conc))
                rows.append(
                    (name, label, len(part) / elapsed, _percentile(latencies, 0.5),
                     _percentile(latencies, 0.99), refused)
                )  # fmt: skip
            size = feed.get("/v1/checkpoint").json()["tree_size"]
            feed.close()
            if size != len(records):
                rows.append((name, "tree size %d != %d records sent" % (size, len(records)),
                             0.0, 0.0, 0.0, len(records) - size))  # fmt: skip
            return rows


def _postgres_schema():
    try:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
            schema = "icpurse_bench_%s" % uuid.uuid4().hex[:8]
            conn.execute("CREATE SCHEMA %s" % schema)
        return schema
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL to measure.
        progress("PostgreSQL not measured: %s" % exc)
        return None


def _drop(schema):
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("DROP SCHEMA %s CASCADE" % schema)


def run(args):
    gen = LoadGenerator(b"bench %d" % time.time_ns(), cards=16)
    progress("signing %d records per database" % args.records)
    progress("measuring pyca verifications/s on one core")
    verify_rate = verifications_per_second(gen)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        records = gen.records(args.records)
        rows += _run_one(
            "sqlite (%d worker%s)" % (args.sqlite_workers, "s" * (args.sqlite_workers > 1)),
            "sqlite:///%s/log.db" % tmp, gen, records, args, workers=args.sqlite_workers,
        )  # fmt: skip
    schema = _postgres_schema()
    if schema is not None:
        try:
            records = gen.records(args.records)
            url = "%s?options=-csearch_path%%3D%s" % (PG_URL, schema)
            rows += _run_one("postgresql (%d workers)" % args.pg_workers, url, gen, records,
                             args, workers=args.pg_workers)  # fmt: skip
        finally:
            _drop(schema)
    print()
    print("pyca/cryptography ECDSA P-256 verify, one core: %.0f verifications/s" % verify_rate)
    print()
    print("%-26s %-24s %11s %9s %9s %8s %8s" % (
        "database", "load", "records/s", "p50 ms", "p99 ms", "refused", "ratio"))  # fmt: skip
    print("-" * 100)
    for name, label, rate, p50, p99, refused in rows:
        print("%-26s %-24s %11.0f %9.1f %9.1f %8d %8.2f" % (
            name, label, rate, p50 * 1000, p99 * 1000, refused, rate / verify_rate))  # fmt: skip
    print()
    print("ratio: durably stored, fully verified records/s per pyca verification/s on one core")
    return 0
