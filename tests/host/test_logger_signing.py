"""The logger's receipt signers: worker processes sign exactly the receipts the service would
sign itself (RFC 6979 makes them deterministic), in order, and a dead worker fails one batch,
not the service."""

import os
import signal

import pytest

from icpurse.crypto_pyca import PycaBackend
from icpurse.logger.signing import INLINE_BELOW, ReceiptSigner, sign_receipts
from icpurse.logger.workers import WorkerDied
from purse.crypto.backend import Signer
from purse.records.logger import Receipt

# The log the receipts belong to (its genesis is the database's; any 8 bytes do here).
LOG_ID = b"log id 1"


def _rows(count):
    return [
        (
            bytes([i % 256]) * 32,
            b"recipnt%d" % (i % 10),
            i.to_bytes(8, "big"),
            i,
            count,
            1767225600,
        )
        for i in range(count)
    ]


def _signer():
    return Signer(PycaBackend(), bytes(range(1, 33)))


@pytest.mark.parametrize("processes", [0, 2])
def test_signers_give_the_receipts_the_service_would_sign(processes):
    signer = _signer()
    rows = _rows(INLINE_BELOW * 8 + 3)
    pool = ReceiptSigner(signer, LOG_ID, processes)
    try:
        pool.start()
        for batch in (rows[:1], rows[: INLINE_BELOW - 1], rows):
            receipts = pool.sign(batch)
            assert receipts == sign_receipts(signer, LOG_ID, batch)
    finally:
        pool.close()
    for row, encoded in zip(rows, receipts, strict=True):
        receipt = Receipt.decode(encoded)
        receipt.verify(PycaBackend(), signer.public_key)
        assert (receipt.leaf_index, receipt.tree_size) == (row[3], row[4])
        assert receipt.log_id == LOG_ID


def test_a_backend_sent_to_a_worker_leaves_its_loaded_keys_behind():
    signer = _signer()
    signer.sign(b"loads the key into the backend's cache")
    state = signer._backend.__getstate__()
    assert state == {}


def test_a_killed_signer_fails_its_batch_and_the_next_batch_is_signed():
    signer = _signer()
    rows = _rows(INLINE_BELOW * 4)
    pool = ReceiptSigner(signer, LOG_ID, 2)
    try:
        pool.start()
        old = pool.pids()
        os.kill(old[0], signal.SIGKILL)
        with pytest.raises(WorkerDied):
            pool.sign(rows)
        assert pool.pids()[0] != old[0] and pool.pids()[1] == old[1]
        assert pool.sign(rows) == sign_receipts(signer, LOG_ID, rows)
    finally:
        pool.close()
