"""`GET /v1/ledger` and `GET /v1/alerts` are answered from a read snapshot, not inside the
appender's lock (issue 22, problem 2: two readers of the ledger cut single-record writes from
3,405/s to about 10/s). The test is structural: they answer while another thread holds the
append lock."""

import threading


def test_the_ledger_answers_while_the_append_lock_is_held(logger_world):
    w = logger_world
    a, b = w.new_card(b"A", 10000), w.new_card(b"B")
    w.transfer(a, b, 250)
    assert w.client.sync(b.client).receipted == 1
    # The client's first signed request reads the logger's log id from its checkpoint, which
    # may store a new checkpoint and so take the lock: read once before the lock is held.
    w.client.ledger()
    held, release = threading.Event(), threading.Event()

    def hold(tx):
        held.set()
        release.wait(30)

    holder = threading.Thread(target=w.service.storage.append, args=(hold,))
    holder.start()
    try:
        assert held.wait(10)
        answer = {}

        def read():
            answer.update(w.client.ledger())
            answer.update(w.client.alerts())

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(15)
        answered = not reader.is_alive()
    finally:
        release.set()
        holder.join(30)
    reader.join(30)
    assert answered, "the ledger or the alerts waited for the append lock"
    assert answer["tree_size"] == 1 and answer["loads"] == 10000
    assert answer["overspend"] == [] and answer["evidence"] == []
