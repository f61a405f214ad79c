"""The stock flow: POS counts -> plan -> relative pushes to commercetools inventory per supply channel.

Plan and push are partitioned by location (`LOCATIONS`), so one store can be re-synced or back-filled
alone. A run is about the stores of its partition key or partition range. Dagster refuses a run of
the push without one once the plan has a materialization, so every launch gives one: the sync jobs'
launch points add the whole range (`jobs.launch_tags`). The plan and push tables keep one row set
per store: a run replaces the rows of its own stores and leaves the others' as they were.
"""


import asyncio

import dagster as dg
import pandas as pd

from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.resources import CommercetoolsCredentials, OmnisyncResource
from omnisync_pipelines.defs.runtime import run_mode
from omnisync_pipelines.defs.specs import configured_pos
from omnisync_pipelines.defs.targets import only_targeted_stock, targeted_products
from omnisync_pipelines.engine.fulfilment_status import status_flow
from omnisync_pipelines.engine.options import SyncOptions
from omnisync_pipelines.engine.stock_plan import (
    plan_stock,
    plan_stock_changes,
    snapshot_high_water,
    stock_flow,
)
from omnisync_pipelines.engine.stock_push import push_stock
from omnisync_pipelines.store.ops import CallLogBuffer
from omnisync_pipelines.store.warehouse import read_location_rows, replace_location_rows

# Dynamic, not static: a store that opens is a new entry in omnisync.yaml's `locations`, and the
# launch of the next sync run (schedule tick, `omnisync sync`, the demo) adds its key here, so its
# partition exists without a redeploy or a code-location reload. One definition serves every POS:
# the keys are omnisync's own location keys (`locations[].key`), not POS outlet ids, and one job
# (full_sync) can hold only one partitions definition. Keys are only added: a closed store keeps
# its history, and its plan comes out empty once it leaves the configuration.
# No backfill policy: Dagster's default for a partitioned asset is one run per partition, so a
# backfill over several stores is one run per store, and those runs may run side by side.
LOCATIONS = dg.DynamicPartitionsDefinition(name="locations")


def run_locations(context: dg.AssetExecutionContext) -> list[str] | None:
    """The stores the run is about (its partition key or range); None for a run given neither, which
    Dagster allows only before the plan's first materialization: then it is about every store."""
    if context.has_partition_key or context.has_partition_key_range:
        return list(context.partition_keys)
    return None


def pos_locations(context: dg.AssetExecutionContext, config, pos: str) -> list[str] | None:
    """The run's stores that trade on `pos` (None: every store, when `pos` holds them all). A store that
    moved to another POS drops out of this POS's plan and push, whatever its old snapshot rows say."""
    run, own = run_locations(context), config.location_keys_of(pos)
    if len(own) == len(config.locations):
        return run
    return [key for key in (run if run is not None else own) if key in set(own)]


def settle_store_moves(ops, config, pos: str) -> int:
    """Retire, at `pos`, the stores that left it and those that came back to it (`StoreMoves`), so each
    POS plans only its own stores and a store's first count on the POS it moved to is an alignment."""
    own = config.location_keys_of(pos)
    return ops.settle_store_moves(pos, stock_flow(pos), own, [loc.key for loc in config.locations if loc.key not in own])


def build_stock_flow(pos: str) -> list[dg.AssetsDefinition]:
    flow = stock_flow(pos)

    @dg.asset(
        key=["plan", flow],
        # after the fulfilment pushes: their POS sales (and voids) move counts this plan must carry (flow 5)
        deps=[dg.AssetKey([pos, "stock"]), dg.AssetKey(["commercetools", "catalog"]),
              dg.AssetKey(["push", status_flow(pos)])],
        partitions_def=LOCATIONS,
        group_name="stock",
        kinds={"duckdb"},
        pool="duckdb",
        description=f"Stock changes {pos} -> commercetools: one row per (SKU, location) whose POS count moved "
        "since it was last applied, with its idempotency key. SKUs unknown to commercetools are rejected. "
        "Partitioned by location: a run replaces the rows of its stores only.",
    )
    def plan(context: dg.AssetExecutionContext, omnisync: OmnisyncResource) -> dg.MaterializeResult:
        ops, config = omnisync.ops_store(), omnisync.load_config()
        locations = pos_locations(context, config, pos)
        if retired := settle_store_moves(ops, config, pos):
            context.log.info(f"{retired} {pos} baselines of stores that changed POS retired")
        full = run_mode(context) == "full"
        with omnisync.warehouse() as con:
            if full:
                rows, rejections = plan_stock(con, pos, ops.baselines_frame(pos), locations=locations)
                high_water = snapshot_high_water(con, pos, locations=locations)
            else:
                rows, rejections, high_water = plan_stock_changes(con, pos, ops, locations=locations)
            rows = only_targeted_stock(context, con, pos, rows)
            replace_location_rows(con, "plan", flow, rows, locations)
        ops.add_rejections(flow, rejections)
        # An event run plans only the SKUs its events named: its high water would pass rows it left out.
        if targeted_products(context) is None:
            ops.stage_plan_watermarks(flow, high_water, token=context.run_id)
        return dg.MaterializeResult(
            metadata={
                "locations": _described(locations),
                "diff": "full snapshot" if full else "changed since the plan watermarks",
                "planned": len(rows),
                "dagster/row_count": len(rows),
                "initial": int((rows["kind"] == "initial").sum()),
                "units_moved": int(rows["expected_delta"].abs().sum()) if len(rows) else 0,
                "rejected": len(rejections),
                "preview": dg.MetadataValue.md(rows.head(10).to_markdown(index=False)) if len(rows) else "",
            }
        )

    @dg.asset(
        key=["push", flow],
        deps=[plan],
        partitions_def=LOCATIONS,
        group_name="stock",
        kinds={"commercetools", "duckdb"},
        # No pool "duckdb": the push opens DuckDB twice, briefly (its plan rows before the HTTP phase,
        # its outcomes after), and `warehouse.connect` waits for the file lock, so the stores' pushes
        # run side by side instead of queueing behind each other's HTTP calls.
        description=f"Applies plan/{flow} to commercetools inventory as relative changes, each exactly once "
        "(ledger + movement stamp on the entry). The table lists the outcome per idempotency key of the "
        "last run of each store.",
    )
    def push(context: dg.AssetExecutionContext, omnisync: OmnisyncResource, commercetools: CommercetoolsCredentials) -> dg.MaterializeResult:
        config = omnisync.load_config()
        ops = omnisync.ops_store()
        locations = pos_locations(context, config, pos)
        with omnisync.warehouse() as con:
            plan_rows = read_location_rows(con, "plan", flow, locations)
        call_log = CallLogBuffer(ops)

        async def main():
            async with open_connector("commercetools", config, commercetools.secrets(), call_log=call_log) as ct:
                return await push_stock(
                    plan_rows, ct, ops, pos_system=pos,
                    options=SyncOptions(negative_stock_policy=config.stock.negative_stock_policy),
                )

        try:
            stats = asyncio.run(main()) if len(plan_rows) or ops.in_flight(flow) else None
        finally:
            call_log.flush()
        outcomes = _outcomes(plan_rows, ops.ledger_statuses(plan_rows["idempotency_key"]) if len(plan_rows) else {})
        with omnisync.warehouse() as con:
            replace_location_rows(con, "push", flow, outcomes, locations)
        # Every planned count is now applied, rejected or in the ledger (the next plan carries what is
        # still `retrying`); one deferred to the fast lane is in none of them, so it keeps the watermark.
        if stats is None or not stats.deferred:
            ops.commit_plan_watermarks(flow, locations, token=context.run_id)
        summary = {"locations": _described(locations), **(stats.as_dict() if stats else {"processed": 0})}
        context.log.info(stats.summary() if stats else f"{flow}: nothing to push")
        if stats and stats.failed:
            raise dg.Failure(
                f"{stats.failed} stock writes failed transiently and stay queued for the next run: {stats.errors[:5]}",
                metadata=summary,
            )
        return dg.MaterializeResult(metadata={**summary, "dagster/row_count": len(outcomes)})

    return [plan, push]


def _described(locations: list[str] | None) -> str:
    return "all" if locations is None else ", ".join(locations)


def _outcomes(plan_rows: pd.DataFrame, statuses: dict[str, str]) -> pd.DataFrame:
    if not len(plan_rows):
        return pd.DataFrame({"idempotency_key": pd.Series(dtype=str), "sku": pd.Series(dtype=str),
                             "location_key": pd.Series(dtype=str), "expected_delta": pd.Series(dtype="int64"),
                             "status": pd.Series(dtype=str)})
    frame = plan_rows[["idempotency_key", "sku", "location_key", "expected_delta"]].copy()
    frame["status"] = [statuses.get(k, "not_sent") for k in frame["idempotency_key"]]
    return frame


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[a for pos in configured_pos() for a in build_stock_flow(pos)])
