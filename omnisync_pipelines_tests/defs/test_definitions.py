"""The code location loads; every job and schedule resolves; the asset keys are the public
contract (two parts = DuckDB schema and table) and match the checked-in list, for every registered
POS alone and for a chain running two POS at once."""

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml

from omnisync_pipelines import systems
from omnisync_pipelines.runs import load_definitions
from omnisync_pipelines_tests.stand_in_pos import stand_in_registered

GOLDEN = Path(__file__).parent / "asset_keys.json"  # a single-POS configuration of the default POS


def golden_keys(pos: str) -> list[str]:
    """The checked-in keys with the POS id in place of the default POS's (schemas, flow names)."""
    return sorted(key.replace(systems.DEFAULT_POS, pos) for key in json.loads(GOLDEN.read_text()))


def keys_of(definitions: dg.Definitions) -> list[str]:
    return sorted("/".join(key.path) for key in definitions.resolve_all_asset_keys())


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
    snapshots = [k for k in definitions.resolve_all_asset_keys() if k.path[0] in systems.system_ids()]
    assert snapshots
    for key in snapshots:
        check = dg.AssetCheckKey(key, "matches_canonical_schema")
        assert (tuple(key.path), check.name) in checks
        assert graph.get_check_spec(check).blocking


@pytest.mark.parametrize("pos", systems.pos_ids())
def test_each_registered_pos_alone_has_the_golden_asset_keys(pos, tmp_path, monkeypatch):
    # a file naming only the POS: enough for the definitions (its runs would stop naming the missing keys)
    (tmp_path / "omnisync.yaml").write_text(yaml.safe_dump({"pos": pos}))
    monkeypatch.setenv("OMNISYNC_CONFIG", str(tmp_path / "omnisync.yaml"))
    assert keys_of(load_definitions()) == golden_keys(pos)


def two_pos_config(stand_in: str) -> dict:
    store = {"commercetools": {"supply_channel_key": "store-berlin"}, "lightspeed_x": {"outlet_id": "o-1"}}
    return {
        "systems": {"commercetools": {"api_url": "https://api.example", "auth_url": "https://auth.example",
                                      "project_key": "shop"},
                    systems.DEFAULT_POS: {"base_url": "https://shop.example", "domain_prefix": "shop"},
                    stand_in: {"base_url": "https://tills.example"}},
        "locations": [{"key": "berlin", **store},
                      {"key": "hamburg", "pos": stand_in, "commercetools": {"supply_channel_key": "store-hamburg"},
                       stand_in: {"shop_id": "shop-7"}}],
    }


def test_a_chain_on_two_pos_gets_every_flow_of_both_in_one_code_location(tmp_path, monkeypatch):
    with stand_in_registered() as stand_in:
        (tmp_path / "omnisync.yaml").write_text(yaml.safe_dump(two_pos_config(stand_in)))
        monkeypatch.setenv("OMNISYNC_CONFIG", str(tmp_path / "omnisync.yaml"))
        definitions = load_definitions()
        keys = keys_of(definitions)
        shared = set(golden_keys(systems.DEFAULT_POS)) & set(golden_keys(stand_in))
        assert keys == sorted(set(golden_keys(systems.DEFAULT_POS)) | set(golden_keys(stand_in)))
        assert any(k.startswith("reconciliation/") for k in shared)  # one reconciliation for the estate
        graph = definitions.resolve_asset_graph()
        for pos in (systems.DEFAULT_POS, stand_in):  # the estate-wide tables wait for every POS's pushes
            for table, upstream in ((["reconciliation", "stock"], ["push", f"stock_{pos}_to_commercetools"]),
                                    (["reconciliation", "orders"], ["push", f"orders_{pos}_to_commercetools"]),
                                    (["availability", "sellable_stock"], [pos, "stock"])):
                assert dg.AssetKey(upstream) in graph.get(dg.AssetKey(table)).parent_keys
        # each POS's assets ask for that POS's credentials, and the code location provides both
        push = definitions.resolve_assets_def(dg.AssetKey(["push", f"catalog_commercetools_to_{stand_in}"]))
        assert stand_in in push.required_resource_keys and systems.DEFAULT_POS not in push.required_resource_keys
        assert {stand_in, systems.DEFAULT_POS} <= set(definitions.resources)
        for job in ("full_sync", "delta_sync", "reconcile", "stock_sync", "reprocess_rejected"):
            assert definitions.resolve_job_def(job).name == job
    assert keys_of(load_definitions()) == golden_keys(systems.DEFAULT_POS)  # the stand-in is gone again
