"""Sellable stock (flow 7): on hand, reserved and sellable per SKU x store, and the sellable totals
of the configured aggregate supply channels written to commercetools."""

import asyncio
import json

import dagster as dg
import pandas as pd

from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.resources import CommercetoolsCredentials, OmnisyncResource
from omnisync_pipelines.defs.specs import configured_pos
from omnisync_pipelines.engine import availability as av
from omnisync_pipelines.engine.fulfilment import fulfilment_flow
from omnisync_pipelines.engine.fulfilment_status import WAITING, status_flow
from omnisync_pipelines.engine.stock_plan import stock_flow
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.ops import CallLogBuffer

TARGET_COLUMNS = ["sku", "channel_key", "target"]
OUTCOME_COLUMNS = ["idempotency_key", "sku", "channel_key", "target", "current", "delta", "status"]


def rules_of(config) -> av.AvailabilityRules:
    a = config.availability
    return av.AvailabilityRules(a.channels, a.safety_stock, a.safety_stock_by_location, a.safety_stock_by_sku)


def _read(con, schema: str, table: str) -> pd.DataFrame:
    return warehouse.read_table(con, schema, table) if warehouse.table_exists(con, schema, table) else pd.DataFrame()


def _units(frame: pd.DataFrame, location_column: str) -> list[tuple[str, str, int]]:
    return [(sku, getattr(r, location_column), qty) for r in frame.itertuples() for sku, qty in json.loads(r.lines or "[]")]


def build_sellable_stock(pos_systems: tuple[str, ...]) -> dg.AssetsDefinition:
    @dg.asset(
        key=["availability", "sellable_stock"],
        deps=[dg.AssetKey(key) for pos in pos_systems for key in (
            [pos, "stock"], ["push", fulfilment_flow(pos)], ["push", status_flow(pos)], ["push", stock_flow(pos)])],
        group_name="availability", kinds={"duckdb"}, pool="duckdb",
        description="Per SKU x store (every store, whatever its POS): POS count, units set aside for assigned pickups / "
        "ship-from-store orders, units of open orders not yet assigned, on_hand (physically there), reserved, "
        "safety_stock (configured per SKU or location), sellable = max(0, on_hand - reserved - safety_stock), and the "
        "aggregate channels it counts toward.",
    )
    def sellable_stock(omnisync: OmnisyncResource) -> dg.MaterializeResult:
        config = omnisync.load_config()
        rules = rules_of(config)
        stock, aside, waiting = [], [], []
        with omnisync.warehouse() as con:
            for pos in config.pos_systems:
                own = set(config.location_keys_of(pos))
                pos_stock = _read(con, pos, "stock")
                stock.append(pos_stock[pos_stock["location_key"].isin(own)] if len(pos_stock) else pos_stock)
                status = _read(con, "push", status_flow(pos))
                pushed = _read(con, "push", fulfilment_flow(pos))
                aside += _units(status[status["pos_status"].isin(sorted(WAITING))], "location_key") if len(status) else []
                waiting += _units(pushed[pushed["status"].isin(["exception", "failed"])], "requested_location") \
                    if len(pushed) else []
            nonempty = [f for f in stock if len(f)]
            frame = av.sellable_stock(pd.concat(nonempty, ignore_index=True) if nonempty else pd.DataFrame(),
                                      av.units_by_location(aside), av.units_by_location(waiting), rules)
            warehouse.replace_table(con, "availability", "sellable_stock", frame)
        return dg.MaterializeResult(metadata={
            "rows": len(frame), "dagster/row_count": len(frame), "reserved_units": int(frame["reserved"].sum()) if len(frame) else 0,
            "sellable_units": int(frame["sellable"].sum()) if len(frame) else 0})

    return sellable_stock


@dg.asset(
    key=["plan", av.FLOW], deps=[dg.AssetKey(["availability", "sellable_stock"]), dg.AssetKey(["commercetools", "catalog"])],
    group_name="availability", kinds={"duckdb"}, pool="duckdb",
    description="Per SKU x aggregate supply channel (config availability.channels): the units the storefront may "
    "sell there, the sum of the sellable stock of the stores that count toward it.",
)
def plan_availability(omnisync: OmnisyncResource) -> dg.MaterializeResult:
    rules = rules_of(omnisync.load_config())
    with omnisync.warehouse() as con:
        sellable = _read(con, "availability", "sellable_stock")
        catalog = _read(con, "commercetools", "catalog")
        skus = sorted(set(catalog["sku"])) if len(catalog) else []
        targets = av.channel_targets(sellable, rules, skus)
        frame = pd.DataFrame([{"sku": s, "channel_key": c, "target": n} for (s, c), n in sorted(targets.items())],
                             columns=TARGET_COLUMNS)
        warehouse.replace_table(con, "plan", av.FLOW, frame)
    return dg.MaterializeResult(metadata={"targets": len(frame), "channels": len(rules.channels),
                                          "dagster/row_count": len(frame)})


@dg.asset(
    key=["push", av.FLOW], deps=[plan_availability],
    group_name="availability", kinds={"commercetools", "duckdb"}, pool="duckdb",
    description="Writes each aggregate channel's sellable totals to its commercetools inventory entries as relative "
    "changes from the entry's current quantity, each keyed (SKU, channel, target, entry version) in the ledger; "
    "unchanged totals send nothing.",
)
def push_availability(context: dg.AssetExecutionContext, omnisync: OmnisyncResource,
                      commercetools: CommercetoolsCredentials) -> dg.MaterializeResult:
    config, ops = omnisync.load_config(), omnisync.ops_store()
    with omnisync.warehouse() as con:
        targets = _read(con, "plan", av.FLOW)
    if not len(targets):
        with omnisync.warehouse() as con:
            warehouse.replace_table(con, "push", av.FLOW, pd.DataFrame(columns=OUTCOME_COLUMNS).astype(
                {"target": "int64", "delta": "int64"}))
        return dg.MaterializeResult(metadata={"processed": 0, "dagster/row_count": 0})
    call_log = CallLogBuffer(ops)

    async def main():
        async with open_connector("commercetools", config, commercetools.secrets(), call_log=call_log) as ct:
            ids = await ct.client.channel_ids_by_key()
            current: dict[tuple[str, str], tuple[int, int]] = {}
            for channel in sorted(set(targets["channel_key"])):
                if channel in ids:
                    where = (f'supplyChannel(id="{ids[channel]}")',)
                    async for entry in ct.client.iter_inventory(where=where):
                        current[(entry["sku"], channel)] = (entry["quantityOnStock"], entry["version"])
            plan = av.plan_availability({(r.sku, r.channel_key): int(r.target) for r in targets.itertuples()}, current)
            return plan, await av.push_availability(plan, ct.client, ids, ops)

    try:
        plan, stats = asyncio.run(main())
    finally:
        call_log.flush()
    statuses = ops.ledger_statuses(plan["idempotency_key"]) if len(plan) else {}
    outcome = plan.assign(status=[statuses.get(k, "rejected") for k in plan["idempotency_key"]]) if len(plan) \
        else pd.DataFrame(columns=OUTCOME_COLUMNS)
    with omnisync.warehouse() as con:
        written = warehouse.replace_table(con, "push", av.FLOW, outcome[OUTCOME_COLUMNS])
    context.log.info(stats.summary())
    if stats.failed:
        raise dg.Failure(f"{stats.failed} availability writes failed transiently; retried next run", metadata=stats.as_dict())
    return dg.MaterializeResult(metadata={**stats.as_dict(), "dagster/row_count": written})


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_sellable_stock(configured_pos()), plan_availability, push_availability])
