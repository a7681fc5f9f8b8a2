"""Card histories and the audit's feeds come a page at a time, each page naming the cursor of
the next (issue 22, problem 4: one card's history was a single 1.66 MB answer). The pages
are small here so that a few cards fill several."""

import pytest

from icpurse.logger.api import cards, records, settlement


@pytest.fixture
def world(logger_world):
    return logger_world


def test_a_card_history_is_paged_and_the_client_follows_it(world, monkeypatch):
    monkeypatch.setattr(cards, "HISTORY_PAGE", 2)
    a, b = world.new_card(b"A", 1000), world.new_card(b"B")
    for amount in (1, 2, 3, 4, 5):
        world.transfer(a, b, amount)
    world.client.sync(b.client)
    a_id = a.client.info().card_id
    path = "/v1/cards/%s" % a_id.hex()
    first = world.http.get(path, auth=world.auth()).json()
    assert [e["amount"] for e in first["history"]] == [1, 2] and first["next"] is not None
    # Every page carries the whole balance; only the history is cut.
    assert first["paid"] == 15 and first["balance"] == 985
    last = world.http.get(path, params={"after": 10**6}, auth=world.auth()).json()
    assert last["history"] == [] and last["next"] is None
    whole = world.client.card(a_id)
    assert [e["amount"] for e in whole["history"]] == [1, 2, 3, 4, 5]
    assert whole["next"] is None


def test_ledger_pages_follow_keys_so_rows_added_meanwhile_shift_nothing(world, monkeypatch):
    """With offsets, a voucher of a card whose id sorts before the page already read pushed a
    row back onto the next page: the audit counted it twice."""
    monkeypatch.setattr(settlement, "MAX_PAGE", 2)
    for name in (b"C1", b"C2", b"C3", b"C4"):
        world.new_card(name, 10)

    def page(after=None):
        params = {} if after is None else {"after": after}
        answer = world.http.get("/v1/ledger/vouchers", params=params, auth=world.auth())
        assert answer.status_code == 200, answer.text
        return answer.json()

    first = page()
    seen = [(r["card_id"], r["sequence"]) for r in first["rows"]]
    # More vouchers arrive while the audit reads, some sorting before its cursor.
    for name in (b"D1", b"D2", b"D3", b"D4"):
        world.new_card(name, 10)
    body = first
    while body["next"] is not None:
        body = page(body["next"])
        seen += [(r["card_id"], r["sequence"]) for r in body["rows"]]
    assert len(seen) == len(set(seen))
    everything = world.client.ledger_table("vouchers")
    assert {(r["card_id"], r["sequence"]) for r in everything} >= set(seen)
    assert len(everything) == 8
    answer = world.http.get("/v1/ledger/vouchers", params={"after": "zz"}, auth=world.auth())
    assert answer.status_code == 400 and "cursor" in answer.json()["error"]


def test_leaves_name_their_next_page(world, monkeypatch):
    monkeypatch.setattr(records, "MAX_PAGE", 2)
    a, b = world.new_card(b"A", 1000), world.new_card(b"B")
    for amount in (1, 2, 3):
        world.transfer(a, b, amount)
    world.client.sync(b.client)
    body = world.http.get("/v1/leaves", auth=world.auth()).json()
    assert len(body["rows"]) == 2 and body["next"] == 2
    assert [r["amount"] for r in world.client.leaves()] == [1, 2, 3]
