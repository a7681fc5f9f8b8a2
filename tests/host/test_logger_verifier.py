"""The logger's verifier pool: worker processes parse and verify records and hand back plain
values, in the order asked, with refusals in place; concurrent requests share batches."""

import asyncio
import os
import pickle
import signal

from icpurse.logger.loadgen import LoadGenerator
from icpurse.logger.verifier import Checker, Prepared, VerifierPool
from purse.records.log import LogRecord


def _fields(item):
    return item.__getstate__() if isinstance(item, Prepared) else item


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
    checker = Checker(gen.ca.public_key, gen.issuer.public_key)
    expected = [[_fields(checker.check(r)) for r in request] for request in requests]

    async def run(processes):
        pool = VerifierPool(gen.ca.public_key, gen.issuer.public_key, processes)
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


def test_prepared_records_travel_as_plain_values():
    gen = LoadGenerator(b"prepared", cards=2)
    data = gen.records(1)[0]
    item = Checker(gen.ca.public_key, gen.issuer.public_key).check(data)
    copy = pickle.loads(pickle.dumps(item))  # noqa: S301 - bytes this test made itself.
    assert copy.__getstate__() == item.__getstate__()
    assert copy.data == data and copy.amount == 1 and len(copy.identity) == 33 + 8 + 32
    record = LogRecord.decode(data)
    assert copy.voucher[3] == record.payment.voucher.encode()


def test_a_killed_worker_fails_its_requests_and_the_pool_recovers():
    gen = LoadGenerator(b"killed worker", cards=2)
    records = gen.records(4)

    async def run():
        pool = VerifierPool(gen.ca.public_key, gen.issuer.public_key, 2)
        try:
            await pool.start()
            victim = next(iter(pool._executor._processes.values()))
            os.kill(victim.pid, signal.SIGKILL)
            victim.join(10)
            try:
                await pool.check(records[:2])
                failed = False
            except Exception:  # noqa: BLE001 - the broken pool's own error type
                failed = True
            return failed, await pool.check(records[2:])
        finally:
            pool.close()

    failed, answers = asyncio.run(run())
    assert failed
    assert all(isinstance(a, Prepared) for a in answers)
