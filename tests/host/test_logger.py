"""The logger service end to end, on a real SQLite file and on the real PostgreSQL server.

Cards are the in-process cards of tests/core/_cards.py; their outboxes are drained through the
host client library and the cards accept the logger's receipts.
"""

import json

from logger_fixtures import WINDOW

from icpurse.logger import merkle
from icpurse.logger.client import LoggerError
from purse import proto
from purse.records.log import LogRecord
from purse.records.logger import Receipt


def _pair(world):
    return world.new_card(b"A", 10000), world.new_card(b"B")


def test_sync_drains_the_outbox_and_cards_take_the_receipts(logger_world):
    w = logger_world
    a, b = _pair(w)
    for mode in proto.SEAL_MODES:
        w.transfer(a, b, 100 * mode, mode)
    assert b.client.info().outbox == 4
    assert w.client.sync(b.client).receipted == 4
    info = b.client.info()
    assert info.outbox == 0 and info.ltime >= w.ltime
    # The logger's reconstruction agrees with the cards.
    for card in (a, b):
        state = card.client.info()
        assert w.client.card(state.card_id)["balance"] == state.balance
    assert w.service.tree_size() == 4


def test_resubmission_variants_and_clone(logger_world):
    w = logger_world
    a, b = _pair(w)
    w.transfer(a, b, 300)
    record = b.client.read_outbox(0)
    first = w.client.submit(record)
    assert w.client.submit(record) == first
    # The same payment with other bytes where no signature reaches (a relay adds a round-trip
    # time): the same record, answered with the stored receipt, which the card takes.
    changed = LogRecord.decode(record)
    changed.rtt = 1234
    assert w.client.submit(changed.encode()) == first
    assert w.client.alerts()["evidence"] == []

    # A clone: A's stored state copied onto a second card, which pays again with ctrA = 2.
    c = w.new_card(b"C")
    clone = w.new_card(b"A2")
    clone.memory.files.clear()
    clone.memory.files.update(a.memory.files)
    clone.power_cycle()
    w.transfer(a, b, 10)
    w.transfer(clone, c, 10)
    # B's outbox: the first record (receipted before, not yet handed back) and the new one.
    assert w.client.sync(b.client).receipted == 2
    # C followed the rules and could not tell offline: it is credited; the evidence names A.
    report = w.client.sync(c.client)
    assert report.receipted == 1 and report.refused == []
    assert c.client.info().outbox == 0 and w.client.card(c.client.info().card_id)["balance"] == 10
    evidence = w.client.alerts()["evidence"]
    assert evidence[-1]["kind"] == "counter-reuse"
    assert evidence[-1]["payer_id"] == a.client.info().card_id.hex()


def test_proofs_and_checkpoints(logger_world):
    w = logger_world
    a, b = _pair(w)
    checkpoints = [w.client.checkpoint()]
    receipts = []
    for i in range(7):
        w.transfer(a, b, 10 + i)
        record = b.client.read_outbox(i)
        receipts.append((record, w.client.submit(record)))
        checkpoints.append(w.client.checkpoint())
    assert [c.tree_size for c in checkpoints] == list(range(8))
    assert checkpoints[0].root == merkle.EMPTY_ROOT
    for record, receipt in receipts:
        w.client.verify_included(record, receipt, checkpoints[-1])
    for old in checkpoints[1:]:
        for new in checkpoints[1:]:
            if old.tree_size <= new.tree_size:
                w.client.verify_consistent(old, new)
    index = Receipt.decode(receipts[2][1]).leaf_index
    assert w.client.leaf(index) == receipts[2]


def test_embodiment_2_ticket_from_the_service(logger_world):
    w = logger_world
    a, b = _pair(w)
    challenge = b.client.make_challenge(55, needs_ticket=True)
    payment = a.client.pay(challenge)
    ticket = w.client.ticket(b.client.get_nonce())
    assert b.client.accept(challenge, payment, ticket) == (55, 55)


def test_bad_input_gets_a_clear_answer(logger_world):
    w = logger_world
    a, b = _pair(w)
    w.transfer(a, b, 300)
    record = b.client.read_outbox(0)
    http = w.http

    def post(path, body, **kw):
        return http.post(path, content=body, headers={"content-type": "application/json"}, **kw)

    assert post("/v1/record", b"{not json").status_code == 400
    assert post("/v1/record", b"[1, 2]").status_code == 400
    assert post("/v1/record", json.dumps({"record": 5}).encode()).status_code == 400
    assert post("/v1/record", json.dumps({"record": "zz"}).encode()).status_code == 400
    assert post("/v1/record", b"{" + b" " * (1024 * 1024 + 10) + b"}").status_code == 413
    # Nested deeper than Python's parser recurses: a 400, where it was a 500.
    answer = post("/v1/records", b"[" * 100000 + b"]" * 100000)
    assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"]
    assert post("/v1/records", json.dumps({"records": []}).encode()).status_code == 400
    # The submit routes are answered in front of Starlette (guard.Guard); their other
    # methods still reach its router.
    assert http.get("/v1/record").status_code == 405
    assert http.put("/v1/records", content=b"{}").status_code == 405
    # Paths and methods the API does not have are answered in JSON with a reason too.
    answer = http.put("/v1/revocation", content=b"{}")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD, POST"
    assert answer.json()["error"] == "PUT is not allowed on /v1/revocation, only GET, HEAD, POST"
    answer = http.get("/v1/records/-1")
    assert answer.status_code == 404
    assert answer.json()["error"] == "the logger's API has no /v1/records/-1 (see /openapi.json)"
    assert http.get("/v2/" + "x" * 500).json()["error"].endswith("x... (see /openapi.json)")
    truncated = json.dumps({"record": record[:-3].hex()}).encode()
    answer = post("/v1/record", truncated)
    assert answer.status_code == 400 and "malformed" in answer.json()["error"]
    bad = LogRecord.decode(record).payment
    rec = LogRecord.decode(record)
    sig = bytearray(rec.payment.signature)
    sig[5] ^= 1
    rec.payment.signature = bytes(sig)
    answer = post("/v1/record", json.dumps({"record": rec.encode().hex()}).encode())
    assert answer.status_code == 422 and "verify" in answer.json()["error"]
    unknown = LogRecord(b"\x00" * 8, rec.r1, bad)
    unknown.certificate, unknown.signature = rec.certificate, rec.signature
    answer = post("/v1/record", json.dumps({"record": unknown.encode().hex()}).encode())
    assert answer.status_code in (422,)
    assert http.get("/v1/status", params={"nonce": "00"}).status_code == 400
    assert http.get("/v1/proofs/inclusion", params={"index": 0, "size": 1}).status_code == 400
    assert http.get("/v1/cards/00", auth=w.auth()).status_code == 400
    assert http.get("/v1/cards/%s" % ("00" * 8), auth=w.auth()).status_code == 404
    assert http.get("/v1/records/99", auth=w.auth()).status_code == 404
    # Past the database's 64-bit integers: a 404 too, where it was a 500.
    assert http.get("/v1/records/%d" % 2**64, auth=w.auth()).status_code == 404
    assert w.service.tree_size() == 0
    w.client.submit(record)
    assert w.service.tree_size() == 1
    assert http.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_revoked_payer_is_credited_with_evidence_and_the_list_is_served(logger_world):
    w = logger_world
    a, b = _pair(w)
    w.transfer(a, b, 20)
    a_id = a.client.info().card_id
    w.transfer(a, b, 30)
    revocation = w.revocation([a_id], sequence=1)
    w.client.publish_revocation(revocation)
    # The same list again (a retry whose first answer was lost) is answered as the first was.
    w.client.publish_revocation(revocation)
    # Within the settlement window, logs of payments the revoked card made are still counted.
    w.client.submit(b.client.read_outbox(0))
    w.advance(WINDOW + 1)
    # After it too: the recipient followed the rules (the payer's stamp was fresh for it), so
    # it is credited, and the evidence shows the issuer what the revoked card spent.
    w.client.submit(b.client.read_outbox(1))
    assert w.service.tree_size() == 2
    evidence = w.client.alerts()["evidence"]
    assert [(e["kind"], e["payer_id"]) for e in evidence] == [("revoked-payer", a_id.hex())]
    try:
        w.client.publish_revocation(w.revocation([], sequence=1))
        raise AssertionError("an older revocation list replaced a newer one")
    except LoggerError as exc:
        assert exc.status == 409
    c = w.new_card(b"C")
    w.client.sync(c.client)
    try:
        challenge = c.client.make_challenge(5)
        c.client.accept(challenge, a.client.pay(challenge))
        raise AssertionError("a revoked payer was accepted")
    except Exception as exc:  # noqa: BLE001 - the card's refusal
        assert getattr(exc, "sw", None) == proto.SW_REVOKED


def test_damaged_database_is_reported(tmp_path):
    from icpurse.logger.storage import StorageError, open_storage

    db = tmp_path / "log.db"
    db.write_bytes(b"this is not a database" * 100)
    try:
        open_storage("sqlite:///%s" % db)
        raise AssertionError("a damaged database was opened")
    except StorageError as exc:
        assert "damaged or not a database" in str(exc)
    try:
        open_storage("mysql://x")
        raise AssertionError("an unsupported URL was accepted")
    except StorageError as exc:
        assert "unsupported database URL" in str(exc)
    try:
        open_storage("sqlite:///%s" % (tmp_path / "no such directory" / "log.db"))
        raise AssertionError("a database was made in a missing directory")
    except StorageError as exc:
        assert "there is no directory" in str(exc)


def test_an_unreachable_postgresql_is_named_with_its_reason_and_no_password():
    from icpurse.logger.process import free_port
    from icpurse.logger.storage import StorageError, open_storage

    url = "postgresql://someone:hunter2@127.0.0.1:%d/test" % free_port()
    try:
        open_storage(url)
        raise AssertionError("a database nobody serves was opened")
    except StorageError as exc:
        message = str(exc)
    assert "hunter2" not in message
    assert "postgresql://someone:***@127.0.0.1" in message
    assert "Connection refused" in message


def test_one_batch_mixes_stored_refused_and_repeated_records(logger_world):
    """The stored-state checks run once per batch in the sequencer: each record of a batch
    still gets its own answer, in order."""
    w = logger_world
    a, b = _pair(w)
    c = w.new_card(b"C", 500)
    for amount in (20, 30):
        w.transfer(a, b, amount)
    w.transfer(c, b, 40)
    first, second, from_c = (b.client.read_outbox(i) for i in range(3))
    w.client.publish_revocation(w.revocation([c.client.info().card_id], sequence=1))
    w.advance(WINDOW + 1)
    unknown = LogRecord.decode(second)
    unknown.recipient_id = b"\x00" * 8
    results = w.client.submit_batch([first, from_c, unknown.encode(), second, first])
    assert all(isinstance(results[i], bytes) for i in (0, 1, 3))
    assert results[4] == results[0]
    assert results[2].status in (400, 422)
    assert Receipt.decode(results[3]).leaf_index == Receipt.decode(results[0]).leaf_index + 2
    assert w.service.tree_size() == 3
    # The revoked payer's record is credited and kept as evidence too.
    assert [e["kind"] for e in w.client.alerts()["evidence"]] == ["revoked-payer"]


def _schema_2_database(path, holds_a_record):
    """A SQLite log database as icpurse protocol 1 left it (schema 2)."""
    import sqlite3

    from icpurse.logger.storage.migrations import MIGRATIONS_SQLITE

    with sqlite3.connect(path) as conn:
        for migration in MIGRATIONS_SQLITE[:2]:
            conn.executescript(migration)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (2)")
        if holds_a_record:
            conn.execute(
                "INSERT INTO vouchers (card_id, sequence, issued, public_key, record)"
                " VALUES (x'00', 1, 0, x'00', x'00')"
            )
    return "sqlite:///%s" % path


def test_a_database_of_protocol_1_is_refused(tmp_path):
    from icpurse.logger.storage import StorageError, open_storage

    try:
        open_storage(_schema_2_database(tmp_path / "old.db", holds_a_record=True))
        raise AssertionError("a database of protocol 1 was opened")
    except StorageError as exc:
        assert "protocol 1" in str(exc) and "new log database" in str(exc)
    # An empty database of an older schema is brought up to date.
    open_storage(_schema_2_database(tmp_path / "empty.db", holds_a_record=False)).close()
