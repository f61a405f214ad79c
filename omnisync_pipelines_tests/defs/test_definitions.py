"""The code location loads; every job and schedule resolves; the asset keys are the public
contract (two parts = DuckDB schema and table) and match the checked-in list."""

import json
from pathlib import Path

import dagster as dg

from omnisync_pipelines.runs import load_definitions

GOLDEN = Path(__file__).parent / "asset_keys.json"


def test_asset_keys_match_the_checked_in_list():
    keys = sorted("/".join(key.path) for key in load_definitions().resolve_all_asset_keys())
    assert keys == json.loads(GOLDEN.read_text())
    assert all(len(key.split("/")) == 2 for key in keys)


def test_every_job_and_schedule_resolves():
    definitions = load_definitions()
    for job in ("full_sync", "delta_sync", "reconcile"):
        assert definitions.resolve_job_def(job).name == job
    schedules = {s.name: s.job_name for s in definitions.schedules}
    assert schedules == {
        "delta_sync_every_5_minutes": "delta_sync",
        "full_sync_nightly": "full_sync",
        "reconcile_daily": "reconcile",
    }


def test_every_snapshot_carries_a_blocking_schema_check():
    definitions = load_definitions()
    graph = definitions.resolve_asset_graph()
    checks = {(tuple(k.asset_key.path), k.name) for k in graph.asset_check_keys}
    snapshots = [k for k in definitions.resolve_all_asset_keys() if k.path[0] in ("commercetools", "lightspeed_x")]
    assert snapshots
    for key in snapshots:
        check = dg.AssetCheckKey(key, "matches_canonical_schema")
        assert (tuple(key.path), check.name) in checks
        assert graph.get_check_spec(check).blocking
