"""The operational store: the ledger, baselines and rejected records keep their promises, and a
batch of the stock push costs the ledger a few statements per phase, however many records it holds."""

import json

import pytest
from sqlalchemy import event

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.postgres import pg_ops_url, require_pg_server, throwaway_ops_store


def store(tmp_path):
    return OpsStore.from_url(f"sqlite:///{tmp_path / 'ops.sqlite'}")


def test_applied_advances_the_baseline_in_the_same_transaction(tmp_path):
    ops = store(tmp_path)
    ops.mark_retrying("k1", flow="f", target="commercetools", source="lightspeed_x", record_ref="A@ber", payload={"delta": -1})
    assert ops.ledger_status("k1") == "retrying"
    assert [e["idempotency_key"] for e in ops.in_flight("f")] == ["k1"]
    ops.mark_applied("k1", {"status": "applied"}, baseline={"source_system": "lightspeed_x", "sku": "A", "location_key": "ber", "level": 4, "version": 11})
    assert ops.ledger_status("k1") == "applied"
    assert ops.in_flight("f") == []
    assert ops.baseline("lightspeed_x", "A", "ber")["level"] == 4
    assert ops.baselines_frame("lightspeed_x").to_dict("records") == [{"sku": "A", "location_key": "ber", "level": 4, "version": 11}]


def test_a_record_rejected_twice_is_one_row_with_two_attempts(tmp_path):
    ops = store(tmp_path)
    rejection = Rejection("lightspeed_x", "stock", "A@ber", "sku", "unknown SKU", "{}")
    ops.add_rejections("f", [rejection])
    ops.add_rejections("f", [rejection])
    frame = ops.rejected_frame("open")
    assert frame[["record_ref", "field", "attempts"]].to_dict("records") == [{"record_ref": "A@ber", "field": "sku", "attempts": 2}]


def test_applying_a_rejected_key_resolves_its_rejection(tmp_path):
    ops = store(tmp_path)
    ops.mark_retrying("k1", flow="f", target="commercetools", source="lightspeed_x", record_ref="A@ber", payload={})
    ops.mark_failed("k1", "rejected", "400")
    ops.add_rejections("f", [Rejection("lightspeed_x", "stock", "A@ber", "quantity", "400", "{}")], key="k1")
    ops.mark_applied("k1", {"status": "applied"})
    assert ops.rejected_frame("resolved")["idempotency_key"].tolist() == ["k1"]


def test_cursors_keep_their_evidence(tmp_path):
    ops = store(tmp_path)
    assert ops.get_cursor("lightspeed_x/stock") is None
    ops.set_cursor("lightspeed_x/stock", "120", {"records": 3})
    ops.set_cursor("lightspeed_x/stock", "150", {"records": 1})
    assert ops.get_cursor("lightspeed_x/stock") == "150"


def _claim_held_by(ops, holder: str, sku: str = "TEE-S") -> None:
    from datetime import UTC, datetime

    from omnisync_pipelines.store import tables

    with ops.engine.begin() as conn:
        conn.execute(tables.stock_claims.insert().values(
            source_system="lightspeed_x", sku=sku, location_key="berlin", claimed_by=f"key-of-{holder}",
            holder=holder, claimed_at=datetime.now(UTC)))


def test_a_count_claimed_by_a_killed_push_on_this_host_is_taken_over_at_once(ops):
    import socket
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a push that was killed: its pid runs no more
    _claim_held_by(ops, f"{socket.gethostname()}:{gone.pid}")
    _claim_held_by(ops, f"{socket.gethostname()}:{gone.pid}", sku="TEE-M")  # a claim of it nobody asks for
    assert ops.claim_stock_many("lightspeed_x", [("TEE-S", "berlin", "mine")]) == {"mine"}
    assert ops.table_frame("stock_claims")["claimed_by"].tolist() == ["mine"]  # the dead push's claims are gone


def test_a_count_claimed_by_a_live_push_waits_for_it_or_its_lease(ops):
    import os
    import socket

    _claim_held_by(ops, f"{socket.gethostname()}:{os.getppid()}")  # alive: the process that started the tests
    _claim_held_by(ops, "another-host:1234", sku="TEE-M")  # elsewhere: alive until its lease runs out
    claims = [("TEE-S", "berlin", "mine-s"), ("TEE-M", "berlin", "mine-m")]
    assert ops.claim_stock_many("lightspeed_x", claims) == set()
    assert ops.claim_stock_many("lightspeed_x", claims, lease_s=0) == {"mine-s", "mine-m"}


def test_a_plan_watermark_moves_only_when_its_push_commits_it(ops):
    flow = "stock_lightspeed_x_to_commercetools"
    ops.stage_plan_watermarks(flow, {"berlin": 120, "hamburg": 90})
    assert ops.plan_watermarks(flow) == {}  # planned, not pushed: nothing is promised yet
    assert ops.commit_plan_watermarks(flow, ["berlin"]) == {"berlin": 120}
    assert ops.plan_watermarks(flow) == {"berlin": 120}
    assert ops.commit_plan_watermarks(flow) == {"hamburg": 90}
    assert ops.commit_plan_watermarks(flow) == {}  # nothing staged any more
    assert ops.plan_watermarks("another_flow") == {}


def test_a_plan_watermark_never_goes_back(ops):
    flow = "stock_lightspeed_x_to_commercetools"
    ops.stage_plan_watermarks(flow, {"berlin": 120})
    ops.commit_plan_watermarks(flow)
    ops.stage_plan_watermarks(flow, {"berlin": 80})  # a plan of owed counts only, all below the watermark
    assert ops.commit_plan_watermarks(flow) == {"berlin": 120}


def test_a_newer_plan_replaces_an_unpushed_one_and_an_older_push_does_not_commit_it(ops):
    flow = "stock_lightspeed_x_to_commercetools"
    older = ops.stage_plan_watermarks(flow, {"berlin": 120})
    newer = ops.stage_plan_watermarks(flow, {"berlin": 150})
    assert ops.commit_plan_watermarks(flow, token=older) == {}  # its rows are a part of the newer plan's
    assert ops.plan_watermarks(flow) == {}
    assert ops.commit_plan_watermarks(flow, token=newer) == {"berlin": 150}


def test_baselines_are_looked_up_by_key_in_batches(ops, monkeypatch):
    from omnisync_pipelines.store import ops as ops_module

    monkeypatch.setattr(ops_module, "BASELINE_LOOKUP_BATCH", 2)
    for n, loc in enumerate(("ber", "ham", "muc")):
        ops.mark_retrying(f"k{n}", flow="f", target="commercetools", source="lightspeed_x", record_ref=f"A@{loc}", payload={})
        ops.mark_applied(f"k{n}", {}, baseline={"source_system": "lightspeed_x", "sku": "A", "location_key": loc,
                                                "level": n, "version": 10 + n})
    wanted = [("A", "ber"), ("A", "muc"), ("B", "ber"), ("A", "ber")]
    assert ops.baselines_for("lightspeed_x", wanted) == {("A", "ber"): (0, 10), ("A", "muc"): (2, 12)}
    assert ops.baselines_for("lightspeed_r", wanted) == {}


# A batch costs a few statements, not a few per record (on SQLite and PostgreSQL) ------------------
POS, FLOW = "lightspeed_x", "stock_lightspeed_x_to_commercetools"


@pytest.fixture(params=["sqlite", pytest.param("postgresql+psycopg", marks=pytest.mark.postgres),
                        pytest.param("postgresql+psycopg2", marks=pytest.mark.postgres)])
def any_ops(request, tmp_path):
    """The ops store on SQLite (the default) and on PostgreSQL (production), in a schema of its own:
    through psycopg 3 (what `postgresql://` means) and psycopg2 (still taken when a URL names it)."""
    if request.param == "sqlite":
        yield store(tmp_path)
        return
    url = pg_ops_url()
    require_pg_server(url)
    with throwaway_ops_store(url, driver=request.param) as ops:
        assert ops.engine.dialect.driver == request.param.partition("+")[2]
        yield ops


def _count(sku: str, location: str, level: int, version: int) -> dict:
    return {"source_system": POS, "sku": sku, "location_key": location, "level": level, "version": version}


def _statements(ops, work) -> int:
    counted = []
    listener = lambda *args: counted.append(1)  # noqa: E731
    event.listen(ops.engine, "before_cursor_execute", listener)
    try:
        work()
    finally:
        event.remove(ops.engine, "before_cursor_execute", listener)
    return len(counted)


def _push_phases(ops, records: int, version: int) -> dict[str, int]:
    """Statements per phase of the stock push for `records` counts of Berlin."""
    counts = [(f"TEE-{n:04d}", "berlin", f"{FLOW}|{POS}|TEE-{n:04d}@berlin|{version}") for n in range(records)]
    keys = [key for _, _, key in counts]
    return {
        "claim": _statements(ops, lambda: ops.claim_stock_many(POS, counts)),
        "intents": _statements(ops, lambda: ops.mark_retrying_many(
            FLOW, "commercetools", POS, [(key, f"{sku}@{loc}", {"sku": sku}) for sku, loc, key in counts])),
        "outcomes": _statements(ops, lambda: ops.mark_applied_many(
            [(key, {"status": "applied"}, _count(sku, loc, 5, version)) for sku, loc, key in counts])),
        "release": _statements(ops, lambda: ops.release_stock_many(POS, keys)),
        "statuses": _statements(ops, lambda: ops.ledger_statuses(keys)),
    }


def test_a_batch_of_500_counts_costs_the_ledger_what_a_batch_of_2_does(any_ops):
    assert _push_phases(any_ops, 500, version=7) == _push_phases(any_ops, 2, version=8)
    assert set(any_ops.ledger_statuses(f"{FLOW}|{POS}|TEE-{n:04d}@berlin|7" for n in range(500)).values()) == {"applied"}
    assert any_ops.table_frame("stock_claims").empty


def test_a_batch_of_outcomes_never_takes_a_baseline_back(any_ops):
    any_ops.mark_applied_many([("earlier", {}, _count("TEE-S", "berlin", 4, 20))])
    any_ops.mark_applied_many([
        ("late-offline-count", {}, _count("TEE-S", "berlin", 9, 15)),  # older than what was applied: ignored
        ("new", {}, _count("TEE-M", "berlin", 7, 30)),
        ("newer-first", {}, _count("TEE-L", "berlin", 3, 12)), ("older-after", {}, _count("TEE-L", "berlin", 8, 11)),
        ("same-count", {}, _count("CAP", "berlin", 1, 40)), ("same-count-again", {}, _count("CAP", "berlin", 2, 40)),
    ])
    frame = any_ops.baselines_frame(POS).sort_values("sku")
    assert frame.to_dict("records") == [
        {"sku": "CAP", "location_key": "berlin", "level": 2, "version": 40},  # equal versions: the last one recorded
        {"sku": "TEE-L", "location_key": "berlin", "level": 3, "version": 12},
        {"sku": "TEE-M", "location_key": "berlin", "level": 7, "version": 30},
        {"sku": "TEE-S", "location_key": "berlin", "level": 4, "version": 20},
    ]
    assert any_ops.baseline(POS, "TEE-L", "berlin")["last_key"] == "newer-first"


def test_applying_a_batch_clears_errors_and_closes_only_its_own_rejections(any_ops):
    for key in ("refused", "held", "other"):
        any_ops.mark_retrying(key, flow=FLOW, target="commercetools", source=POS, record_ref=f"{key}@berlin", payload={})
        any_ops.mark_failed(key, "rejected", "422 from commercetools")
    any_ops.add_rejections(FLOW, [Rejection(POS, "stock", "refused@berlin", "quantity", "422", "{}")], key="refused")
    any_ops.add_rejections(FLOW, [Rejection(POS, "stock", "held@berlin", "quantity", "held", "{}")], status="held", key="held")
    any_ops.add_rejections(FLOW, [Rejection(POS, "stock", "other@berlin", "quantity", "422", "{}")], key="other")
    any_ops.mark_applied_many([("refused", {"status": "applied", "quantity_on_stock": 3}, None),
                               ("held", {"status": "noop"}, None)])
    ledger = any_ops.table_frame("ledger").set_index("idempotency_key")
    assert ledger.loc[["refused", "held", "other"], "status"].tolist() == ["applied", "applied", "rejected"]
    assert ledger.loc["refused", "error"] is None and ledger.loc["other", "error"] == "422 from commercetools"
    assert json.loads(ledger.loc["refused", "result"]) == {"status": "applied", "quantity_on_stock": 3}
    rejected = any_ops.rejected_frame().set_index("idempotency_key")["status"].to_dict()
    assert rejected == {"refused": "resolved", "held": "resolved", "other": "open"}


def test_a_record_given_twice_in_one_batch_is_one_row_that_counts_both(any_ops):
    rejection = Rejection(POS, "stock", "GHOST-SKU@berlin", "sku", "unknown SKU", "{}")
    assert any_ops.add_rejections(FLOW, [rejection, rejection]) == 2
    assert any_ops.rejected_frame("open")["attempts"].tolist() == [2]
    any_ops.mark_retrying_many(FLOW, "commercetools", POS, [("k", "TEE-S@berlin", {}), ("k", "TEE-S@berlin", {})])
    assert [entry["attempts"] for entry in any_ops.in_flight(FLOW)] == [2]


def test_a_store_made_before_the_rejections_had_a_key_index_gets_it(tmp_path):
    from sqlalchemy import inspect, text

    store(tmp_path).engine.dispose()
    with store(tmp_path).engine.begin() as conn:  # as an ops.sqlite of a release before migrations and that index
        conn.execute(text("DROP INDEX ix_rejected_idempotency_key"))
        conn.execute(text("DROP TABLE ops_alembic_version"))
    indexes = {index["name"] for index in inspect(store(tmp_path).engine).get_indexes("rejected")}
    assert "ix_rejected_idempotency_key" in indexes


def test_baselines_are_found_by_position_across_statements(any_ops, monkeypatch):
    """`baselines_for` answers each pair by its position, also past the first statement's batch."""
    import omnisync_pipelines.store.ops as ops_module

    monkeypatch.setattr(ops_module, "BASELINE_LOOKUP_BATCH", 3)
    any_ops.mark_applied_many([(f"k{n}", {}, _count(f"TEE-{n}", "berlin", n, 10 + n)) for n in range(0, 8, 2)])
    wanted = [(f"TEE-{n}", "berlin") for n in range(8)] + [("TEE-2", "hamburg")]
    assert any_ops.baselines_for(POS, wanted) == {(f"TEE-{n}", "berlin"): (n, 10 + n) for n in range(0, 8, 2)}
