"""The operational store: the ledger, baselines and rejected records keep their promises."""

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.store.ops import OpsStore


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
