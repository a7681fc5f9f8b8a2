"""`icpurse bench logger`: durable, fully verified records per second, and latency.

It starts `icpurse logger serve` on loopback (SQLite in a temporary directory, then PostgreSQL
in a fresh schema when a server answers), feeds it valid signed records from concurrent clients
— large batches for throughput, small batches from few clients for latency, one record per
request — and prints records/s with p50/p99 request latency. In the same run it measures
pyca/cryptography ECDSA verifications per second on one core (the logger checks one signature S
per record; certificates and vouchers are cached) and prints the ratio, and beside each figure
the CPU the load generator took and how busy the whole machine was: the load generator runs on
the cores it measures the logger on.
"""

import asyncio
import os
import tempfile
import time
import uuid

import httpx2

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.loaddriver import drive, record_requests
from icpurse.logger.loadgen import LoadGenerator
from icpurse.logger.process import LoggerProcess
from icpurse.progress import progress

PG_URL = os.environ.get("ICPURSE_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def verification_items(gen):
    """(key, message, signature) of 200 records' signatures S, to verify again and again."""
    from purse.records.log import LogRecord

    items = []
    for data in gen.records(200):
        payment = LogRecord.decode(data).payment
        items.append((payment.certificate.public_key, payment.signed_bytes(), payment.signature))
    return items


def verifications_per_second(items, seconds=0.5):
    """pyca ECDSA P-256 verifications/s on this core, on the records' own signatures."""
    backend = PycaBackend()
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for key, message, signature in items:
            backend.verify(key, message, signature)
        done += len(items)
    return done / (time.perf_counter() - start)


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _machine_busy():
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:8]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def _run_one(name, db, gen, records, args, reference, workers=1):
    """Rows of (name, load, records/s, p50, p99, refused, loadgen CPU, machine busy, verify/s).

    The machine's speed drifts (a virtual machine's neighbours come and go), so the verify
    rate is measured right before and right after each load, and each row keeps the mean.
    """
    with tempfile.TemporaryDirectory() as tmp:
        server = LoggerProcess(tmp, db, gen.ca.public_key, gen.issuer.public_key, workers,
                               sequencer=args.sequencer)  # fmt: skip
        with server:
            feed = httpx2.Client(base_url=server.url)
            for voucher in gen.vouchers():
                feed.post("/v1/vouchers", json={"voucher": voucher.hex()})
            rows = []
            # Three loads, a third of the records each: throughput in large batches, latency
            # in small batches from few clients, and one record per request.
            third = len(records) // 3
            loads = (
                (args.batch, args.clients, records[:third]),
                (args.latency_batch, args.latency_clients, records[third : 2 * third]),
                (1, args.single_clients, records[2 * third :]),
            )
            for batch, conc, part in loads:
                label = ("batch %d x %d clients" % (batch, conc) if batch > 1
                         else "single x %d clients" % conc)  # fmt: skip
                progress("%s: %s, %d records" % (name, label, len(part)))
                requests = record_requests("127.0.0.1", part, batch)
                verify_before = reference()
                before = _machine_busy()
                elapsed, latencies, refused, cpu = asyncio.run(
                    drive("127.0.0.1", server.port, requests, conc)
                )
                after = _machine_busy()
                verify_rate = (verify_before + reference()) / 2
                busy = (after[0] - before[0]) / max(1, after[1] - before[1])
                rows.append(
                    (name, label, len(part) / elapsed, _percentile(latencies, 0.5),
                     _percentile(latencies, 0.99), refused, cpu / elapsed, busy, verify_rate)
                )  # fmt: skip
            size = feed.get("/v1/checkpoint").json()["tree_size"]
            feed.close()
            if size != len(records):
                rows.append((name, "tree size %d != %d records sent" % (size, len(records)),
                             0.0, 0.0, 0.0, len(records) - size, 0.0, 0.0, 0.0))  # fmt: skip
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
    items = verification_items(gen)
    measured = []

    def reference():
        measured.append(verifications_per_second(items))
        return measured[-1]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        records = gen.records(args.records)
        rows += _run_one(
            "sqlite (%d worker%s)" % (args.sqlite_workers, "s" * (args.sqlite_workers > 1)),
            "sqlite:///%s/log.db" % tmp, gen, records, args, reference,
            workers=args.sqlite_workers,
        )  # fmt: skip
    schema = _postgres_schema()
    if schema is not None:
        try:
            records = gen.records(args.records)
            url = "%s?options=-csearch_path%%3D%s" % (PG_URL, schema)
            rows += _run_one("postgresql (%d workers)" % args.pg_workers, url, gen, records,
                             args, reference, workers=args.pg_workers)  # fmt: skip
        finally:
            _drop(schema)
    print()
    print("pyca/cryptography ECDSA P-256 verify, one core, measured before and after each load:"
          " %.0f to %.0f verifications/s" % (min(measured), max(measured)))  # fmt: skip
    print()
    print("%-26s %-24s %10s %8s %8s %8s %9s %6s %8s %8s" % (
        "database", "load", "records/s", "p50 ms", "p99 ms", "refused", "verify/s", "ratio",
        "loadgen", "machine"))  # fmt: skip
    print("-" * 124)
    for name, label, rate, p50, p99, refused, loadgen, busy, verify_rate in rows:
        print("%-26s %-24s %10.0f %8.1f %8.1f %8d %9.0f %6.2f %7.0f%% %7.0f%%" % (
            name, label, rate, p50 * 1000, p99 * 1000, refused, verify_rate,
            rate / verify_rate if verify_rate else 0.0, loadgen * 100, busy * 100))  # fmt: skip
    print()
    print("verify/s: pyca verifications/s on one core, the mean of the rates measured right")
    print("before and right after that load; ratio: durably stored, fully verified records/s")
    print("per verify/s; loadgen: the load generator's CPU, in % of one core; machine: all")
    print("cores busy, in %")
    return 0
