"""The logger's verifier pool: worker processes parse and verify records and hand back plain
values, in the order asked, with refusals in place; concurrent requests share batches."""

import asyncio
import os
import pickle
import signal

from icpurse.bench.loadgen import LoadGenerator
from icpurse.logger.verifier import Checker, Prepared, VerifierPool
from purse.records.log import LogRecord


def _fields(item):
    if isinstance(item, Prepared):
        return tuple(getattr(item, name) for name in Prepared.__slots__)
    return item


def _mixed_requests(gen):
    good = gen.records(150)
    forged = LogRecord.decode(good[3])
    signature = bytearray(forged.payment.signature)
    signature[7] ^= 1
    forged.payment.signature = bytes(signature)
    return [
        good[:120],
        [good[120]],
        [good[121][:-2], forged.encode(), good[122]],
        good[123:],
    ]


def test_processes_answer_like_the_in_process_checker():
    gen = LoadGenerator(b"verifier pool", cards=4)
    requests = _mixed_requests(gen)
    checker = Checker(gen.ca.public_key, gen.issuer.public_key, gen.log_id)
    expected = [[_fields(checker.check(r)) for r in request] for request in requests]

    async def run(processes):
        pool = VerifierPool(gen.ca.public_key, gen.issuer.public_key, gen.log_id, processes)
        try:
            return await asyncio.gather(*(pool.check(request) for request in requests))
        finally:
            pool.close()

    for processes in (0, 2):
        answers = asyncio.run(run(processes))
        assert [[_fields(a) for a in answer] for answer in answers] == expected
    refused = expected[2]
    assert refused[0][0] == 400 and "malformed" in refused[0][1]
    assert refused[1][0] == 422 and "verify" in refused[1][1]
    assert isinstance(answers[2][2], Prepared)


def test_workers_send_back_plain_values_without_the_record():
    gen = LoadGenerator(b"prepared", cards=2)
    good = gen.records(2)
    checker = Checker(gen.ca.public_key, gen.issuer.public_key, gen.log_id)
    answer = checker.check_plain([good[0], b"\x00", good[1]])
    sent = pickle.dumps(answer)
    assert good[0] not in sent and good[1] not in sent
    fields, refusals = pickle.loads(sent)  # noqa: S301 - bytes this test made itself.
    assert fields[1] is None and refusals == {1: (400, refusals[1][1])}
    assert "malformed" in refusals[1][1]
    item = Prepared(good[0], fields[0])
    assert _fields(item) == _fields(checker.check(good[0]))
    assert item.data == good[0] and item.amount == 1 and len(item.identity) == 33 + 8 + 32
    record = LogRecord.decode(good[0])
    assert item.identity == b"".join(record.payment.identity())
    assert item.voucher[3] == record.payment.voucher.encode()


def test_a_killed_worker_fails_its_requests_and_the_pool_recovers():
    gen = LoadGenerator(b"killed worker", cards=2)
    records = gen.records(42)

    async def run():
        pool = VerifierPool(gen.ca.public_key, gen.issuer.public_key, gen.log_id, 2)
        try:
            await pool.start()
            await pool.check(records[:1])  # The workers' sockets are now under the loop.
            # The first worker is stopped, so it holds its share of the next request unanswered
            # when it is killed: that request fails, whatever the timing.
            first = pool.pids()[0]
            os.kill(first, signal.SIGSTOP)
            pending = asyncio.ensure_future(pool.check(records[1:41]))
            await asyncio.sleep(0.2)
            os.kill(first, signal.SIGKILL)
            try:
                await pending
                failed = False
            except Exception:  # noqa: BLE001 - the broken pool's own error type
                failed = True
            return failed, await pool.check(records[41:])
        finally:
            pool.close()

    failed, answers = asyncio.run(run())
    assert failed
    assert all(isinstance(a, Prepared) for a in answers)


def test_requests_that_arrive_together_are_shared_among_the_workers():
    # The clients that one commit answers send their next records at once. Those records are
    # dispatched together on the loop's next turn, an equal share to each worker, rather than
    # one record to each free lane and all the rest to whichever lane frees first.
    pool = VerifierPool(b"\x02" * 33, b"\x03" * 33, b"log id 1", processes=2)
    chunks = []

    async def check_chunk(chunk):
        chunks.append(len(chunk))
        await asyncio.sleep(0.01)
        return [None] * len(chunk), {pos: (422, "refused") for pos in range(len(chunk))}

    pool._check_chunk = check_chunk

    async def burst():
        return await asyncio.gather(*(pool.check([b"record %d" % i]) for i in range(20)))

    try:
        answers = asyncio.run(burst())
    finally:
        pool.close()
    assert answers == [[(422, "refused")]] * 20
    assert chunks == [10, 10]
