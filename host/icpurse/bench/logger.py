"""`icpurse bench logger`: durable, fully verified records per second, and latency.

It starts `icpurse logger serve` on loopback (SQLite in a temporary directory, then PostgreSQL
in a fresh schema when a server answers), feeds it valid signed records from concurrent clients
after an unmeasured warm-up — large batches for throughput; a latency search, batched loads
with more and more records in flight until p99 reaches a bound (the targets ask for throughput
with batching at p99 < 50 ms, which the throughput load, with its queue of 1,600 records in
flight, does not show); one record per request — and prints records/s with p50/p99 request
latency. In the same run it measures
pyca/cryptography ECDSA verifications per second on one core (the logger checks one signature S
per record; certificates and vouchers are cached) and prints the ratio, and beside each figure
the CPU the load generator took and how busy the whole machine was: the load generator runs on
the cores it measures the logger on. A second table splits the logger's own CPU per record among
its processes (the event loop, the verifiers, the appender, the receipt signers): where the work
goes, whatever the latency and queueing of the load were; a slower machine raises it too.
"""

import asyncio
import os
import tempfile
import time
import uuid

import httpx2

from icpurse.bench import proctree
from icpurse.bench.ledger_readers import LedgerReaders
from icpurse.bench.loaddriver import drive, record_requests
from icpurse.bench.loadgen import LoadGenerator
from icpurse.crypto_pyca import PycaBackend
from icpurse.logger import signing, verifier
from icpurse.logger.client.signing import RequestSigning
from icpurse.logger.process import LoggerProcess
from icpurse.logger.service import appender
from icpurse.progress import progress

# The latency search's loads, (records per request, concurrent clients), with more and more
# records in flight: the throughput a logger keeps while its p99 latency stays under a bound.
# The first, with 50 records in flight, is there for slow or busy machines, where even 100 in
# flight miss the bound and the search would otherwise have no load to report.
LADDER = ((25, 2), (50, 2), (50, 3), (50, 4), (100, 3), (100, 4), (200, 3))
# The logger's processes by the names they give themselves; any other is the event loop's
# (HTTP, JSON, dispatch; uvicorn's supervisor with several workers).
ROLES = (
    (verifier.PROCESS_NAME, "verify"),
    (appender.PROCESS_NAME, "append"),
    (signing.PROCESS_NAME, "sign"),
)
LOOP_ROLE = "loop"
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


CPU_HEADING = "The logger's CPU per record, by process, in microseconds"
# What the figures were measured with: plain http on loopback, and submissions, which need no
# role's key (the vouchers fed before the loads are signed as the issuer).
_TLS_AND_AUTH = (
    "TLS: off (plain http on loopback); authentication: none needed for submissions, which are"
    " judged by the card signatures they carry"
)
# A load whose logger used less CPU than this many of the kernel's ticks gets no CPU figures:
# at 10 ms a tick, a short load's processes may show none at all.
MIN_TICKS = 5
TOO_SHORT = "too short"


def _role(process_name):
    for name, role in ROLES:
        if process_name == name:
            return role
    return LOOP_ROLE


def _measure(name, server, label, part, batch, conc, reference):
    """One load: a row of (name, load, records/s, p50, p99, refused, loadgen CPU, machine busy,
    verify/s, {role: the logger's CPU seconds per record}).

    The machine's speed drifts (a virtual machine's neighbours come and go), so the verify
    rate is measured right before and right after each load, and the row keeps the mean.
    """
    requests = record_requests("127.0.0.1", part, batch)
    verify_before = reference()
    before = _machine_busy()
    processes = proctree.snapshot(server.process.pid)
    elapsed, latencies, refused, cpu = asyncio.run(drive("127.0.0.1", server.port, requests, conc))
    used = proctree.used_by_name(processes, proctree.snapshot(server.process.pid), _role)
    after = _machine_busy()
    verify_rate = (verify_before + reference()) / 2
    busy = (after[0] - before[0]) / max(1, after[1] - before[1])
    per_record = {role: seconds / len(part) for role, seconds in used.items()}
    if used and sum(used.values()) < MIN_TICKS * proctree.RESOLUTION:
        per_record = TOO_SHORT
    return (name, label, len(part) / elapsed, _percentile(latencies, 0.5),
            _percentile(latencies, 0.99), refused, cpu / elapsed, busy, verify_rate,
            per_record)  # fmt: skip


def _label(batch, conc):
    return "batch %d x %d clients" % (batch, conc) if batch > 1 else "single x %d clients" % conc


def _under_bound(name, server, gen, args, reference):
    """The latency search: batched loads with more and more records in flight (LADDER), each
    `args.latency_requests` requests long, until one's p99 reaches the bound. The row of the
    fastest load whose p99 stayed under it; if none did, the first load's row, so labelled."""
    bound = args.latency_bound / 1000
    best = first = None
    for batch, conc in LADDER:
        label = _label(batch, conc)
        progress("%s: %s, %d records" % (name, label, batch * args.latency_requests))
        row = _measure(name, server, label, gen.records(batch * args.latency_requests), batch,
                       conc, reference)  # fmt: skip
        progress("%s: %s: %.0f records/s, p99 %.1f ms" % (name, label, row[2], row[4] * 1000))
        first = first or row
        if row[4] >= bound:
            break
        if best is None or row[2] > best[2]:
            best = row
    if best is None:
        return (*first[:1], "%s, p99 >= %g ms" % (first[1], args.latency_bound), *first[2:])
    return (*best[:1], "%s, p99 < %g ms" % (best[1], args.latency_bound), *best[2:])


def _run_one(name, db, gen, args, reference, workers=1):
    """The rows of one database: throughput in large batches, the fastest batched load whose
    p99 stays under the latency bound, and one record per request."""
    with tempfile.TemporaryDirectory() as tmp:
        server = LoggerProcess(tmp, db, gen.ca.public_key, gen.issuer.public_key, workers,
                               sequencer=args.sequencer)  # fmt: skip
        with server:
            # Vouchers are the issuer's to hand over: signed with its key.
            feed = httpx2.Client(base_url=server.url, auth=RequestSigning(gen.issuer))
            gen.join_logger(feed)
            for voucher in gen.vouchers():
                answer = feed.post("/v1/vouchers", json={"voucher": voucher.hex()})
                if answer.status_code != 200:
                    raise RuntimeError("the logger refused a voucher: %s" % answer.text)
            # Not measured: the first requests meet cold caches (certificates and vouchers not
            # yet verified, the database's pages not yet read) that a running logger has warm.
            progress("%s: warm-up, %d records, not measured" % (name, args.warmup))
            sent = args.warmup
            warmup = record_requests("127.0.0.1", gen.records(args.warmup), 100)
            asyncio.run(drive("127.0.0.1", server.port, warmup, 4))
            rows = []
            for batch, conc in ((args.batch, args.clients), (1, args.single_clients)):
                label = _label(batch, conc)
                progress("%s: %s, %d records" % (name, label, args.records))
                rows.append(_measure(name, server, label, gen.records(args.records), batch,
                                     conc, reference))  # fmt: skip
                sent += args.records
                if batch > 1:
                    before = gen.serial
                    rows.append(_under_bound(name, server, gen, args, reference))
                    sent += gen.serial - before
            size = feed.get("/v1/checkpoint").json()["tree_size"]
            feed.close()
            if size != sent:
                rows.append((name, "tree size %d != %d records sent" % (size, sent),
                             0.0, 0.0, 0.0, sent - size, 0.0, 0.0, 0.0, {}))  # fmt: skip
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
    if args.duration:
        return run_sustained(args)
    gen = LoadGenerator(b"bench %d" % time.time_ns(), cards=16)
    items = verification_items(gen)
    measured = []

    def reference():
        measured.append(verifications_per_second(items))
        return measured[-1]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += _run_one(
            "sqlite (%d worker%s)" % (args.sqlite_workers, "s" * (args.sqlite_workers > 1)),
            "sqlite:///%s/log.db" % tmp, gen, args, reference, workers=args.sqlite_workers,
        )  # fmt: skip
    schema = _postgres_schema()
    if schema is not None:
        try:
            url = "%s?options=-csearch_path%%3D%s" % (PG_URL, schema)
            rows += _run_one("postgresql (%d workers)" % args.pg_workers, url, gen, args,
                             reference, workers=args.pg_workers)  # fmt: skip
        finally:
            _drop(schema)
    print()
    print("pyca/cryptography ECDSA P-256 verify, one core, measured before and after each load:"
          " %.0f to %.0f verifications/s" % (min(measured), max(measured)))  # fmt: skip
    print()
    print("%-26s %-38s %10s %8s %8s %8s %9s %6s %8s %8s" % (
        "database", "load", "records/s", "p50 ms", "p99 ms", "refused", "verify/s", "ratio",
        "loadgen", "machine"))  # fmt: skip
    print("-" * 138)
    for name, label, rate, p50, p99, refused, loadgen, busy, verify_rate, _ in rows:
        print("%-26s %-38s %10.0f %8.1f %8.1f %8d %9.0f %6.2f %7.0f%% %7.0f%%" % (
            name, label, rate, p50 * 1000, p99 * 1000, refused, verify_rate,
            rate / verify_rate if verify_rate else 0.0, loadgen * 100, busy * 100))  # fmt: skip
    print()
    print("verify/s: pyca verifications/s on one core, the mean of the rates measured right")
    print("before and right after that load; ratio: durably stored, fully verified records/s")
    print("per verify/s; loadgen: the load generator's CPU, in % of one core; machine: all")
    print("cores busy, in %%; p99 < %g ms: the fastest of the latency search's batched loads"
          " whose p99 stayed under the bound" % args.latency_bound)  # fmt: skip
    print(_TLS_AND_AUTH)
    _print_cpu(rows)
    return 0


def _print_cpu(rows):
    """The second table: the logger's CPU per record, by process role."""
    if not any(row[9] for row in rows):
        print()
        print("The logger's CPU per process is not shown: /proc cannot be read here.")
        return
    roles = [LOOP_ROLE] + [role for _, role in ROLES]
    print()
    print(CPU_HEADING)
    print()
    print("%-26s %-38s" % ("database", "load") + "".join(" %7s" % r for r in roles)
          + " %7s" % "total")  # fmt: skip
    print("-" * (65 + 8 * (len(roles) + 1)))
    for row in rows:
        cpu = row[9]
        if cpu == TOO_SHORT:
            print("%-26s %-38s" % row[:2] + " %7s" % "-" * (len(roles) + 1))
        elif cpu:
            print("%-26s %-38s" % row[:2] + "".join(" %7.0f" % (cpu.get(r, 0.0) * 1e6)
                                                     for r in roles)
                  + " %7.0f" % (sum(cpu.values()) * 1e6))  # fmt: skip
    print()
    print("loop: the service's event loop (HTTP, JSON, dispatch); verify: the record checkers;")
    print("append: the sequencer's process (SQL, Merkle tree); sign: the receipt signers. The")
    print("cores' time, from /proc, divided by the records of that load; -: the load was too")
    print("short to measure (under %d of the kernel's %g ms ticks of CPU)."
          % (MIN_TICKS, proctree.RESOLUTION * 1000))  # fmt: skip


def run_sustained(args):
    """`--duration S`: one batched load held for S seconds on each database (sustained.py),
    records/s per interval, and the last interval's rate as a share of the first's."""
    from icpurse.bench.sustained import Producer, hold

    seed = b"sustained %d" % time.time_ns()
    items = verification_items(LoadGenerator(seed + b" reference", cards=4))
    databases = []
    with tempfile.TemporaryDirectory() as tmp:
        databases.append(("sqlite (%d worker%s)" % (args.sqlite_workers,
                                                    "s" * (args.sqlite_workers > 1)),
                          "sqlite:///%s/log.db" % tmp, args.sqlite_workers))  # fmt: skip
        schema = _postgres_schema()
        if schema is not None:
            url = "%s?options=-csearch_path%%3D%s" % (PG_URL, schema)
            databases.append(("postgresql (%d workers)" % args.pg_workers, url, args.pg_workers))
        try:
            for name, db, workers in databases:
                _hold_one(name, db, workers, seed + name.encode(), args, items, Producer, hold)
        finally:
            if schema is not None:
                _drop(schema)
    print()
    print("records/s: durably stored, fully verified records a second in that interval;")
    print("ratio: records/s per pyca verification/s on one core, measured before and after;")
    print("generator: the share of the interval the clients waited for records to send (the")
    print("generator runs on the cores it measures the logger on).")
    print(_TLS_AND_AUTH)
    return 0


def _hold_one(name, db, workers, seed, args, items, producer_class, hold):
    with tempfile.TemporaryDirectory() as tmp:
        gen = LoadGenerator(seed, 16)
        # By default no per-client read limit: --ledger-readers read as fast as they can, the
        # worst case; --read-rate sets the service's limit instead.
        server = LoggerProcess(tmp, db, gen.ca.public_key, gen.issuer.public_key, workers,
                               sequencer=args.sequencer,
                               extra=["--read-rate", "%g" % args.read_rate])  # fmt: skip
        with server:
            with httpx2.Client(base_url=server.url, auth=RequestSigning(gen.issuer)) as feed:
                # The records are of this logger's log: their vouchers name it.
                producer = producer_class(seed, 16, args.batch, gen.join_logger(feed))
                for voucher in producer.vouchers():
                    answer = feed.post("/v1/vouchers", json={"voucher": voucher.hex()})
                    if answer.status_code != 200:
                        raise RuntimeError("the logger refused a voucher: %s" % answer.text)
            progress("%s: making records ahead of the load" % name)
            producer.start()
            try:
                verify_before = verifications_per_second(items)
                progress("%s: %d s of batch %d x %d clients" % (name, args.duration, args.batch,
                                                                 args.clients))  # fmt: skip
                readers = LedgerReaders(server.url, gen.issuer_secret, args.ledger_readers,
                                        args.interval)  # fmt: skip
                try:
                    slots = asyncio.run(
                        hold(server.port, producer, args.clients, args.duration, args.interval,
                             args.warmup, readers.begin)
                    )  # fmt: skip
                finally:
                    reads, readers_cpu, _ = readers.stop()
                verify = (verify_before + verifications_per_second(items)) / 2
            finally:
                producer.close()
    print()
    print("%s, batch %d x %d clients, %g s in intervals of %g s, after %d records of warm-up" % (
        name, args.batch, args.clients, args.duration, args.interval, args.warmup))  # fmt: skip
    print("%-12s %10s %6s %8s %8s %10s" % ("interval", "records/s", "ratio", "p99 ms", "refused",
                                          "generator"))  # fmt: skip
    for k, (stored, refused, p99, waited) in enumerate(slots):
        rate = stored / args.interval
        print("%4g-%-4g s   %10.0f %6.2f %8.1f %8d %9.0f%%%s" % (
            k * args.interval, (k + 1) * args.interval, rate, rate / verify, p99 * 1000, refused,
            100 * waited / args.interval,
            ("  readers" if k % 2 else "") if args.ledger_readers else ""))  # fmt: skip
    if args.ledger_readers:
        reading = len(slots) // 2 * args.interval or 1
        print("meanwhile %d client(s) read GET /v1/ledger %d times in the odd intervals (%.1f a"
              " second while reading), signed as the issuer; %s" % (
                  args.ledger_readers, reads, reads / reading,
                  "per-client limit %g/s" % args.read_rate if args.read_rate
                  else "no per-client limit"))  # fmt: skip
        print("the readers are processes of their own: %.0f%% of one core while reading, on the"
              " cores the logger runs on" % (100 * readers_cpu / reading))  # fmt: skip
        quiet = [s[0] for s in slots[0::2]]
        busy = [s[0] for s in slots[1::2]]
        if quiet and busy:
            without, beside = sum(quiet) / len(quiet), sum(busy) / len(busy)
            print("appends beside the readers: %.0f records/s against %.0f without them (%+.0f %%;"
                  " intervals alternate, so both see the same machine)" % (
                      beside / args.interval, without / args.interval,
                      100 * (beside - without) / without if without else 0))  # fmt: skip
    first, last = slots[0][0], slots[-1][0]
    total = sum(s[0] for s in slots) / args.duration
    print(
        "mean %.0f records/s (ratio %.2f to %.0f verifications/s); last interval %.0f%% of "
        "the first" % (total, total / verify, verify, 100 * last / first if first else 0)
    )
