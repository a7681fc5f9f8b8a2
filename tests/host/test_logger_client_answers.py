"""The logger client takes only answers shaped as the API describes: anything else (a URL that
is not an icpurse logger, a logger gone wrong) is a LoggerError that names what was wrong, and
a command reports it in one line, never a KeyError or TypeError traceback."""

import http.server
import json
import threading

import httpx2
import pytest

from icpurse.cli import main
from icpurse.logger.client import LoggerClient, LoggerError


def _client(answer, status=200):
    """A LoggerClient whose every request is answered `answer` (bytes, or a value as JSON)."""
    content = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
    transport = httpx2.MockTransport(lambda request: httpx2.Response(status, content=content))
    return LoggerClient(http=httpx2.Client(transport=transport, base_url="http://logger"))


# Well-formed answers of /v1/cards/ID and /v1/ledger, which a case spoils in one field.
_CARD = {"card_id": "00", "issued": 5, "received": 0, "paid": 0, "balance": 5, "revoked": False,
         "history": [], "successor": None, "predecessor": None}  # fmt: skip
_LEDGER = {
    "loads": 5,
    "redeemed": 0,
    "balances": 5,
    "in_doubt": 0,
    "cards": {"00": {"balance": 5}},
}

CASES = [
    ("checkpoint", (), [1, 2], "the answer is not a JSON object"),
    ("checkpoint", (), {"detail": "hello"}, "the answer has no str 'checkpoint'"),
    ("checkpoint", (), {"checkpoint": 5}, "the answer has no str 'checkpoint'"),
    ("checkpoint", (), {"checkpoint": "zz"}, "the answer's 'checkpoint' is not hex"),
    ("ticket", (b"\x00" * 16,), {"ticket": None}, "no str 'ticket'"),
    ("leaf", (0,), {"record": "00"}, "no str 'receipt'"),
    ("inclusion_proof", (0, 1), {"proof": "00"}, "no list 'proof'"),
    ("consistency_proof", (1, 2), {"proof": [5]}, "the answer's 'proof' is not hex"),
    ("submit_batch", ([b"\x01", b"\x02"],), {"results": [{"status": 200, "receipt": "00"}]},
     "the answer has 1 results for 2 records"),
    ("submit_batch", ([b"\x01"],), {"results": [{"status": "200"}]}, "no int 'status'"),
    ("submit_batch", ([b"\x01"],), {"results": [{"status": True}]}, "no int 'status'"),
    ("submit_batch", ([b"\x01"],), {"results": ["ok"]}, "'results' is not a list of objects"),
    ("in_doubt", (), {"payments": {}}, "no list 'payments'"),
    ("in_doubt", (), {"payments": [{"payment_key": "00", "payer_id": "00", "amount": 5,
                                    "due": "yes", "refundable_from": 1}]},
     "the logger's in-doubt row 0 has no valid 'due'"),
    ("upload_journal", ([b"\x01"],), {"results": [[]]}, "not a list of objects"),
    ("leaves", (), {"rows": None}, "no list 'rows'"),
    ("revocation", (), {"revocation": ["00"]}, "no str 'revocation'"),
    ("latest_voucher", (b"\x00" * 8,), {}, "no str 'voucher'"),
    ("recover", (b"\x00" * 8, b"\x01" * 8), {"statement": "0"}, "'statement' is not hex"),
    ("checkpoint", (), b"[" * 100000 + b"]" * 100000, "the answer is not JSON"),
    ("card", (b"\x00" * 8,), {"card_id": "00", "balance": 5}, "card has no valid 'issued'"),
    ("card", (b"\x00" * 8,), dict(_CARD, revoked=0), "card has no valid 'revoked'"),
    ("card", (b"\x00" * 8,), dict(_CARD, successor=7), "card has no valid 'successor'"),
    ("alerts", (), {"overspend": []}, "no list 'evidence'"),
    ("alerts", (), {"overspend": [{"card_id": "00"}], "evidence": []},
     "overspend row 0 has no valid 'issued'"),
    ("alerts", (), {"overspend": [], "evidence": [{"kind": "clone", "payer_id": "00"}]},
     "evidence row 0 has no valid 'record'"),
    ("ledger", (), dict(_LEDGER, cards=[]), "ledger has no valid 'cards'"),
    ("ledger", (), dict(_LEDGER, loads="5"), "ledger has no valid 'loads'"),
    ("ledger", (), dict(_LEDGER, cards={"00": {"balance": None}}),
     "ledger's card 00 has no valid 'balance'"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "args", "answer", "message"), CASES,
                         ids=["%s-%d" % (c[0], i) for i, c in enumerate(CASES)])  # fmt: skip
def test_an_answer_not_shaped_as_the_api_says_is_a_logger_error(method, args, answer, message):
    with pytest.raises(LoggerError) as caught:
        getattr(_client(answer), method)(*args)
    assert message in caught.value.reason


@pytest.mark.parametrize(("method", "args", "answer"), [
    ("card", (b"\x00" * 8,), _CARD), ("ledger", (), _LEDGER),
    ("alerts", (), {"overspend": [{"card_id": "00", "issued": 1, "received": 0, "paid": 2}],
                    "evidence": [{"kind": "clone", "payer_id": "00", "record": "00",
                                  "conflicts_with": 3, "ltime": 9}]}),
])  # fmt: skip
def test_a_well_formed_answer_is_handed_over_as_it_came(method, args, answer):
    assert getattr(_client(answer), method)(*args) == answer


def test_a_refusal_keeps_its_status_and_reason():
    with pytest.raises(LoggerError) as caught:
        _client({"error": "no leaf 7"}, status=404).leaf(7)
    assert (caught.value.status, caught.value.reason) == (404, "no leaf 7")


class _OtherService(http.server.BaseHTTPRequestHandler):
    """Some other JSON API, where a user's --logger URL points by mistake."""

    def do_GET(self):
        body = b'{"service": "something else", "version": 3}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_command_pointed_at_another_service_says_so_in_one_line(capsys, tmp_path):
    from icpurse.authority import keys

    operator = tmp_path / "operator.pem"
    keys.create(operator, str(operator) + ".pub")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OtherService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d" % server.server_address[1]
        status = main(["audit", "--logger", url, "--logger-key", "02" + "11" * 32,
                       "--operator-key", str(operator)])  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert status == 2
    assert "the answer has no str 'checkpoint': is this URL an icpurse logger?" in err
    assert "Traceback" not in err


class _Ledger:
    """A logger client whose ledger is empty but for what a test puts in it."""

    def __init__(self, **tables):
        self.tables = tables

    def leaves(self):
        return self.tables.get("leaves", [])

    def ledger_table(self, table):
        return self.tables.get(table, [])

    def ledger(self):
        return self.tables.get("ledger", {"cards": {}, "loads": 0, "in_doubt": 0, "balances": 0,
                                          "redeemed": 0})  # fmt: skip

    def alerts(self):
        return self.tables.get("alerts", {"overspend": [], "evidence": []})


AUDITS = [
    ({"leaves": [{"leaf_index": 0}]}, "the logger's leaves row 0 has no valid 'record'"),
    ({"vouchers": [{"card_id": "zz", "sequence": 1, "issued": 5, "reason": "load",
                    "record": "00"}]}, "vouchers row 0 has no valid 'card_id'"),
    ({"payments": [{"payment_key": "00", "payer_id": "00", "amount": "5"}]},
     "payments row 0 has no valid 'amount'"),
    ({"settlements": [{"payment_key": "00", "kind": "refunded", "payer_id": "00",
                       "voucher_sequence": "1", "amount": 1}]},
     "settlements row 0 has no valid 'voucher_sequence'"),
    ({"recoveries": ["row"]}, "recoveries row 0 has no valid 'card_id'"),
    ({"checkpoints": [{"checkpoint": "00", "tree_size": True}]},
     "checkpoints row 0 has no valid 'tree_size'"),
]  # fmt: skip


@pytest.mark.parametrize(("tables", "message"), AUDITS, ids=[m for _, m in AUDITS])
def test_the_audit_names_a_malformed_ledger_row(tables, message):
    from icpurse import audit

    with pytest.raises(LoggerError) as caught:
        audit.run(_Ledger(**tables), None, None, None)
    assert message in caught.value.reason


def test_the_audit_of_an_empty_well_formed_ledger_passes():
    from icpurse import audit

    assert audit.run(_Ledger(), None, None, None).passed
