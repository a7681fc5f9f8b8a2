"""The audit of a fresh logger: a checkpoint signed while the log was empty (provisioning asks
for one before any record exists) is checked as the empty tree, not as a tree a consistency
proof must start from (issue 22, problem 6: a nightly audit alarmed on every new logger)."""

from icpurse import audit
from icpurse.crypto_pyca import PycaBackend


def test_the_audit_passes_with_a_checkpoint_of_the_empty_log(logger_world):
    w = logger_world
    first = w.client.checkpoint()
    assert first.tree_size == 0
    a, b = w.new_card(b"A", 10000), w.new_card(b"B")
    w.transfer(a, b, 250)
    assert w.client.sync(b.client).receipted == 1
    assert w.client.checkpoint().tree_size == 1
    report = audit.run(w.client, None, PycaBackend(), w.logger.public_key)
    assert report.passed, report.anomalies
    assert report.figures["checkpoints"] >= 2


def test_a_checkpoint_of_size_zero_must_have_the_empty_root(logger_world):
    from icpurse.audit.report import AuditReport
    from icpurse.audit.tree import check_tree
    from icpurse.logger.merkle import EMPTY_ROOT
    from purse.records.checkpoint import Checkpoint

    w = logger_world
    good = w.client.checkpoint()
    assert good.root == EMPTY_ROOT
    forged = Checkpoint(0, b"\x01" * 32, good.ltime, good.log_id)
    rows = [{"checkpoint": forged.sign(w.logger_signer).encode().hex(), "tree_size": 0}]
    report = AuditReport()
    check_tree(report, w.client, [], rows, PycaBackend(), w.logger.public_key)
    assert report.anomalies == [
        "checkpoint at size 0 does not match the records: the log was altered"
    ]
