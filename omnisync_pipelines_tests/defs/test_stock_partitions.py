"""Stock plan and push partitioned by location: real Dagster runs against the emulators over sockets.

Contract: the nightly full_sync is still one run that syncs every store, without anybody picking
partitions; a store re-synced alone (its partition of `stock_sync`) moves only that store's
commercetools inventory and leaves the other stores' rows in the plan and push tables as they were;
a backfill over several stores is one run per store; a store added to omnisync.yaml gets its
partition at the next launch, with no code change, and is synced in that very run.

The story runs in order on one sandbox: three stores trade at the POS, but Hamburg opens in
omnisync only in the last test.
"""

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from omnisync_pipelines import systems
from omnisync_pipelines.defs.jobs import delta_sync_schedule
from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.defs.stock_flow import LOCATIONS
from omnisync_pipelines.demo import demo_environment, load_served, write_config
from omnisync_pipelines.runs import load_definitions, run_job
from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines.sandbox.scenario import build_world
from omnisync_pipelines.sandbox.serve import SandboxServer
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.defs.conftest import environment

POS = "lightspeed_x"
STOCK_FLOW = f"stock_{POS}_to_commercetools"
PLAN, PUSH = ("plan", STOCK_FLOW), ("push", STOCK_FLOW)
OPENING_LATER = "hamburg"


# fixtures -------------------------------------------------------------------------------------------

class ThreeStores:
    """Berlin, Munich and Hamburg at the POS and in commercetools; omnisync.yaml maps Berlin and Munich."""

    def __init__(self, data_dir):
        plugin = systems.sandbox_plugin(POS)
        self.ct, self.pos_emulator = CommercetoolsEmulator(seed=5), plugin.emulator(5)
        self.server = SandboxServer().start({"commercetools": self.ct, POS: self.pos_emulator})
        self.world = build_world(5, stores=3, products=3, customers=4)
        self.loaded = self.server.run(load_served(self.world, self.server), timeout=60)
        self.probe = plugin.probe(self.pos_emulator, self.loaded.pos[POS])
        self.config_path = data_dir / "omnisync.yaml"
        write_config(self.config_path, self.server, self.loaded)
        self.all_locations = yaml.safe_load(self.config_path.read_text())["locations"]
        self.write_locations([loc for loc in self.all_locations if loc["key"] != OPENING_LATER])
        self.env = demo_environment(data_dir, self.server)
        self.duckdb_path = data_dir / "omnisync.duckdb"

    def write_locations(self, locations: list[dict]) -> None:
        config = yaml.safe_load(self.config_path.read_text())
        config["locations"] = locations
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def pos_level(self, sku: str, store: str) -> int:
        return self.probe.count(sku, store)

    def ct_levels(self, store: str) -> dict[str, int]:
        channel = self.loaded.channel_ids[store]
        return {e["sku"]: e["quantityOnStock"] for e in self.ct.store.all("inventory-entry")
                if (e.get("supplyChannel") or {}).get("id") == channel}

    def pos_levels(self, store: str) -> dict[str, int]:
        return {v.sku: self.pos_level(v.sku, store) for v in self.world.variants}

    def table(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return con.execute(sql).df()


@pytest.fixture(scope="module")
def instance():
    """This module's own Dagster instance (it runs its own three-store sandbox, not `sandbox`)."""
    with dg.instance_for_test() as test_instance:
        yield test_instance


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    box = ThreeStores(tmp_path_factory.mktemp("partitions"))
    try:
        with environment(box.env):
            yield box
    finally:
        box.server.stop()


def stock_partitions(instance, run_id: str) -> dict[tuple[str, ...], set]:
    """The location partitions of the stock plan and push that a run materialized."""
    found: dict[tuple[str, ...], set] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        event = entry.dagster_event
        if tuple(event.asset_key.path) in (PLAN, PUSH):
            found.setdefault(tuple(event.asset_key.path), set()).add(event.partition)
    return found


def run_stock_sync(instance, store: str):
    job = load_definitions().resolve_job_def("stock_sync")
    return job.execute_in_process(instance=instance, partition_key=store, raise_on_error=False)


def in_stock(levels: dict[str, int]) -> dict[str, int]:
    """A count of 0 at the POS needs no inventory entry in commercetools: absent means 0 there."""
    return {sku: level for sku, level in levels.items() if level}


# tests ----------------------------------------------------------------------------------------------

def test_the_nightly_full_sync_is_one_run_over_every_store(stores, instance):
    outcome = run_job("full_sync", instance=instance)  # as `omnisync sync full` and the demo launch it
    assert outcome.success, outcome.summary()

    assert list(instance.get_dynamic_partitions(LOCATIONS.name)) == ["berlin", "munich"]
    assert stock_partitions(instance, outcome.run_id) == {PLAN: {"berlin", "munich"}, PUSH: {"berlin", "munich"}}
    for store in ("berlin", "munich"):
        assert in_stock(stores.ct_levels(store)) == in_stock(stores.pos_levels(store))
    assert stores.ct_levels(OPENING_LATER) == {}, "a store omnisync does not map yet is left alone"


def test_berlin_re_synced_alone_moves_only_berlin(stores, instance):
    tee, hoodie = stores.world.variants[0].sku, stores.world.variants[1].sku
    # both stores count stock in the back office; only Berlin is re-synced now
    stores.probe.adjust_count(tee, "berlin", +3)  # found
    stores.probe.adjust_count(hoodie, "munich", -2)  # damaged
    munich_in_ct = stores.ct_levels("munich")
    munich_plan = stores.table(f"SELECT * FROM plan.{STOCK_FLOW} WHERE location_key = 'munich' ORDER BY sku")
    munich_push = stores.table(f"SELECT * FROM push.{STOCK_FLOW} WHERE location_key = 'munich' ORDER BY sku")
    assert len(munich_plan) and len(munich_push)

    watermarks_before = OpsStore.from_url().plan_watermarks(STOCK_FLOW)
    assert set(watermarks_before) == {"berlin", "munich"}, "the full sync's push committed a watermark per store"

    result = run_stock_sync(instance, "berlin")
    assert result.success
    assert stock_partitions(instance, result.run_id) == {PLAN: {"berlin"}, PUSH: {"berlin"}}
    watermarks = OpsStore.from_url().plan_watermarks(STOCK_FLOW)
    assert watermarks["berlin"] > watermarks_before["berlin"], "Berlin's found tees are behind its new watermark"
    assert watermarks["munich"] == watermarks_before["munich"], "Munich's damaged hoodies are still ahead of its watermark"

    assert stores.ct_levels("berlin")[tee] == stores.pos_level(tee, "berlin")
    assert stores.ct_levels("munich") == munich_in_ct, "Munich's damaged hoodies wait for Munich's own run"
    plan = stores.table(f"SELECT sku, location_key, expected_delta, kind FROM plan.{STOCK_FLOW} "
                        "WHERE location_key = 'berlin'")
    assert plan.to_dict("records") == [{"sku": tee, "location_key": "berlin", "expected_delta": 3, "kind": "level_change"}]
    pushed = stores.table(f"SELECT sku, status FROM push.{STOCK_FLOW} WHERE location_key = 'berlin'")
    assert pushed.to_dict("records") == [{"sku": tee, "status": "applied"}]
    pd.testing.assert_frame_equal(
        stores.table(f"SELECT * FROM plan.{STOCK_FLOW} WHERE location_key = 'munich' ORDER BY sku"), munich_plan)
    pd.testing.assert_frame_equal(
        stores.table(f"SELECT * FROM push.{STOCK_FLOW} WHERE location_key = 'munich' ORDER BY sku"), munich_push)

    result = run_stock_sync(instance, "munich")
    assert result.success
    assert stores.ct_levels("munich")[hoodie] == stores.pos_level(hoodie, "munich")
    assert stores.table(f"SELECT sku FROM plan.{STOCK_FLOW} WHERE location_key = 'berlin'")["sku"].tolist() == [tee]


def test_a_backfill_over_several_stores_is_one_run_per_store():
    graph = load_definitions().resolve_asset_graph()
    for key in (PLAN, PUSH):
        node = graph.get(dg.AssetKey(list(key)))
        assert node.partitions_def == LOCATIONS
        # no policy: Dagster backfills a partitioned asset one partition per run
        assert node.backfill_policy in (None, dg.BackfillPolicy.multi_run(1))


def test_hamburg_opens_and_is_synced_without_a_code_change(stores, instance):
    stores.write_locations(stores.all_locations)
    omnisync = OmnisyncResource(config_path=str(stores.config_path), ops_url=stores.env["OMNISYNC_OPS_URL"],
                                duckdb_path=str(stores.duckdb_path))
    # exited: an open context keeps the instance it opened current, and later definition loads in
    # this process would find it disposed
    with dg.build_schedule_context(instance=instance, resources={"omnisync": omnisync}) as context:
        [request] = delta_sync_schedule.evaluate_tick(context).run_requests
    assert list(instance.get_dynamic_partitions(LOCATIONS.name)) == ["berlin", "munich", OPENING_LATER]
    assert request.partition_key_range == dg.PartitionKeyRange("berlin", OPENING_LATER)

    # Hamburg's counts were read before it was mapped: a full sync re-reads them
    outcome = run_job("full_sync", instance=instance, tags=dict(request.tags))
    assert outcome.success, outcome.summary()
    assert in_stock(stores.ct_levels(OPENING_LATER)) == in_stock(stores.pos_levels(OPENING_LATER))
    assert in_stock(stores.ct_levels(OPENING_LATER))
