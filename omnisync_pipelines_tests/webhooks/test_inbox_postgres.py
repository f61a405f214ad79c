"""The inbox on PostgreSQL stores each (system, event_id) once, even with writers racing.

`add` is True for a new event and False for a duplicate; `pending` lists unprocessed events in id
order after a given id; `mark_processed` takes them out. Two processes adding the same events at
the same moment (released together by a barrier) store each event exactly once between them:
every distinct event is stored, none twice, and exactly one process saw `True` for each.
"""

import multiprocessing

import pytest

from omnisync_pipelines.store.inbox import Inbox, InboxEvent
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.postgres import pg_ops_url, require_pg_server, throwaway_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store_args():
    """(url, connect_args) of an ops store in a schema of this test's own (tables created)."""
    url = pg_ops_url()
    require_pg_server(url)
    with throwaway_schema(url) as connect_args:
        url_text = url.render_as_string(hide_password=False)
        OpsStore.from_url(url_text, connect_args=connect_args).engine.dispose()
        yield url_text, connect_args


def event(n: int, system: str = "lightspeed_x") -> InboxEvent:
    return InboxEvent(system, f"evt-{n}", "inventory.update", f'{{"id": "inv-{n}", "count": {n}}}')


def test_add_dedupes_and_pending_lists_until_processed(pg_store_args):
    url, connect_args = pg_store_args
    inbox = Inbox(OpsStore.from_url(url, create=False, connect_args=connect_args))
    assert inbox.add(event(1)) is True
    assert inbox.add(event(1)) is False
    assert inbox.add(event(1, system="newstore")) is True  # ids are per system
    assert inbox.add(event(2)) is True
    pending = inbox.pending()
    assert [(r["system"], r["event_id"]) for r in pending] == [
        ("lightspeed_x", "evt-1"), ("newstore", "evt-1"), ("lightspeed_x", "evt-2")]
    assert [r["event_id"] for r in inbox.pending(after_id=pending[0]["id"], limit=1)] == ["evt-1"]
    inbox.mark_processed([pending[0]["id"], pending[2]["id"]])
    assert [(r["system"], r["event_id"]) for r in inbox.pending()] == [("newstore", "evt-1")]
    assert inbox.add(event(1)) is False  # processed events still dedupe redeliveries
    inbox.ops.engine.dispose()


def _write_inbox(url, connect_args, events, barrier, results) -> None:
    inbox = Inbox(OpsStore.from_url(url, create=False, connect_args=connect_args))
    inbox.pending(limit=1)  # connect before the barrier, so both start inserting together
    barrier.wait(timeout=60)
    results.put([e.event_id for e in events if inbox.add(e)])
    inbox.ops.engine.dispose()


def test_two_processes_writing_the_same_events_store_each_once(pg_store_args):
    url, connect_args = pg_store_args
    shared = [event(n) for n in range(300)]
    own = {0: [event(n) for n in range(1000, 1040)], 1: [event(n) for n in range(2000, 2040)]}
    # Both walk the shared events in the same order, so they collide on nearly every insert.
    batches = [shared[:150] + own[w][:20] + shared[150:] + own[w][20:] for w in (0, 1)]

    ctx = multiprocessing.get_context("spawn")  # no inherited connections
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_write_inbox, args=(url, connect_args, b, barrier, results)) for b in batches]
    for w in workers:
        w.start()
    stored_by = [results.get(timeout=120), results.get(timeout=120)]
    for w in workers:
        w.join(timeout=30)
        assert w.exitcode == 0

    first, second = (set(ids) for ids in stored_by)
    assert not first & second  # never stored twice
    expected = {e.event_id for e in shared} | {e.event_id for batch in own.values() for e in batch}
    assert first | second == expected  # every distinct event stored
    inbox = Inbox(OpsStore.from_url(url, create=False, connect_args=connect_args))
    rows = inbox.pending(limit=10_000)
    assert len(rows) == len(expected) == len({r["event_id"] for r in rows})
    inbox.ops.engine.dispose()
