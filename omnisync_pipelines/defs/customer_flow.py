"""The customers flow, both ways between commercetools and the POS.

plan (one multi-asset, because matching needs both sides at once): validate emails, match by
normalised email, then external id, then the crosswalk; report likely duplicates (never merged, and
an unmatched customer named in one is not created anywhere until an operator decides); diff each
matched pair field by field, each field only in its owner's direction, private fields never;
unmatched customers are created on the other side where `customers.create_missing` allows it.
Matched pairs are written to the crosswalk. push: one asset per direction, each write once per
idempotency key (which carries the source record's version).

Delta and full runs share this code: the snapshots upstream read everything (full) or what changed
since their cursors (delta) and merge it; the plan diffs the merged snapshots, so only customers
that differ produce writes, and a write already applied is never sent again. An `event_sync` run
pushes only the writes of the customers its events named (defs/targets.py); the others still
differ in the snapshots, so the next delta_sync plans them again.
"""

import asyncio

import dagster as dg
import pandas as pd

from omnisync_pipelines.config import OmnisyncConfig
from omnisync_pipelines.connectors.registry import build_customer_target, open_connector
from omnisync_pipelines.defs.catalog_flow import settle_unplanned
from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.defs.specs import COMMERCETOOLS, configured_pos
from omnisync_pipelines.defs.targets import only_targeted_customers
from omnisync_pipelines.engine.customer_push import push_customers
from omnisync_pipelines.engine.customers import (
    PLAN_COLUMNS,
    TO_COMMERCETOOLS,
    TO_POS,
    CustomerSyncOptions,
    customers_flow,
    customers_from_frame,
    plan_customers,
)
from omnisync_pipelines.engine.stock_push import SystemicSyncError
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.crosswalk import Crosswalk
from omnisync_pipelines.store.ops import CallLogBuffer


def sync_options(config: OmnisyncConfig) -> CustomerSyncOptions:
    options = config.customers
    return CustomerSyncOptions(
        ownership=dict(options.ownership), private_fields=frozenset(options.private_fields),
        create_missing={TO_COMMERCETOOLS: options.create_missing.get(TO_COMMERCETOOLS, True),
                        TO_POS: options.create_missing.get(TO_POS, False)},
    )


def duplicates_key(pos: str) -> str:
    return f"customers_{pos}_duplicate_suspects"


def build_customer_flow(pos: str) -> list[dg.AssetsDefinition]:
    to_ct, to_pos = customers_flow(pos, COMMERCETOOLS), customers_flow(COMMERCETOOLS, pos)
    snapshots = [dg.AssetKey([pos, "customers"]), dg.AssetKey([COMMERCETOOLS, "customers"])]

    @dg.multi_asset(
        name=f"plan_customers_{pos}",
        specs=[
            dg.AssetSpec(["plan", to_ct], group_name="customers", kinds={"duckdb"}, deps=snapshots,
                         description=f"Customer writes {pos} -> commercetools: creates of POS customers commercetools "
                         "lacks, and updates of the fields the POS owns (loyalty id, store consent by default)."),
            dg.AssetSpec(["plan", to_pos], group_name="customers", kinds={"duckdb"}, deps=snapshots,
                         description=f"Customer writes commercetools -> {pos}: updates of the fields commercetools "
                         "owns (email, names by default), and creates where configured."),
            dg.AssetSpec(["plan", duplicates_key(pos)], group_name="customers", kinds={"duckdb"}, deps=snapshots,
                         description="Likely duplicate customers (same email twice, one external id claimed twice, "
                         "same name and phone under different emails): reported, never merged."),
        ],
        pool="duckdb",
        can_subset=False,
    )
    def plan(context: dg.AssetExecutionContext, omnisync: OmnisyncResource):
        config, ops = omnisync.load_config(), omnisync.ops_store()
        crosswalk = Crosswalk(ops)
        with omnisync.warehouse() as con:
            pos_customers = customers_from_frame(warehouse.read_table(con, pos, "customers"))
            ct_customers = customers_from_frame(warehouse.read_table(con, COMMERCETOOLS, "customers"))
        result = plan_customers(pos_customers, ct_customers, pos_system=pos, links=crosswalk.mapping("customer"),
                                options=sync_options(config))
        crosswalk.link_many(result.links.to_dict("records"))
        by_flow = {to_ct: [r for r in result.rejections if r.system == pos],
                   to_pos: [r for r in result.rejections if r.system == COMMERCETOOLS]}
        with omnisync.warehouse() as con:
            for flow in (to_ct, to_pos):
                warehouse.replace_table(con, "plan", flow, _plan_table(result.for_flow(flow)))
            warehouse.replace_table(con, "plan", duplicates_key(pos), result.duplicates)
        for flow, customers, system in ((to_ct, pos_customers, pos), (to_pos, ct_customers, COMMERCETOOLS)):
            ops.add_rejections(flow, by_flow[flow])
            # valid now and nothing left to write: what was rejected before is resolved (refusals by the target stay)
            keep = {r.record_ref for r in by_flow[flow]} | set(result.for_flow(flow)["source_id"])
            ops.resolve_rejections(flow, system, [c.customer_id for c in customers if c.customer_id not in keep])
        for flow in (to_ct, to_pos):
            writes = result.for_flow(flow)
            yield dg.MaterializeResult(asset_key=["plan", flow], metadata={
                "planned": len(writes),
                "dagster/row_count": len(writes),
                "creates": int((writes["action"] == "create").sum()) if len(writes) else 0,
                "rejected": len(by_flow[flow]),
                "preview": dg.MetadataValue.md(writes[["source_id", "action", "changes"]].head(10).to_markdown(index=False))
                if len(writes) else "",
            })
        yield dg.MaterializeResult(asset_key=["plan", duplicates_key(pos)], metadata={
            "suspects": len(result.duplicates), "dagster/row_count": len(result.duplicates), "matched_pairs": len(result.links) // 2,
        })

    def build_push(source: str, target_system: str) -> dg.AssetsDefinition:
        flow = customers_flow(source, target_system)

        @dg.asset(
            key=["push", flow],
            deps=[dg.AssetKey(["plan", flow])],
            group_name="customers",
            kinds={target_system, "duckdb"},
            pool="duckdb",
            description=f"Applies plan/{flow} to {target_system}, each write once per idempotency key; a create "
            "first looks for the customer at the target (our earlier create, or the same email) and links instead.",
            required_resource_keys={"omnisync", target_system},
        )
        def push(context: dg.AssetExecutionContext):
            omnisync: OmnisyncResource = context.resources.omnisync
            config, ops = omnisync.load_config(), omnisync.ops_store()
            with omnisync.warehouse() as con:
                writes = _from_table(warehouse.read_table(con, "plan", flow))
            settle_unplanned(ops, flow, set(writes["source_id"]) if len(writes) else set())
            writes = only_targeted_customers(context, writes)  # after settling: unnamed writes stay planned
            secrets = getattr(context.resources, target_system).secrets()
            call_log = CallLogBuffer(ops)

            async def main():
                async with open_connector(target_system, config, secrets, call_log=call_log) as connector:
                    return await push_customers(writes, build_customer_target(connector), ops, source_system=source)

            try:
                stats = asyncio.run(main()) if len(writes) else None
            except SystemicSyncError as exc:
                raise dg.Failure(str(exc)) from exc
            finally:
                call_log.flush()
            statuses = ops.ledger_statuses(writes["idempotency_key"]) if len(writes) else {}
            with omnisync.warehouse() as con:
                written = warehouse.replace_table(con, "push", flow, _outcomes(writes, statuses))
            summary = stats.as_dict() if stats else {"processed": 0}
            context.log.info(stats.summary() if stats else f"{flow}: nothing to push")
            if stats and stats.failed:
                raise dg.Failure(f"{stats.failed} customer writes failed transiently; they are retried next run",
                                 metadata=summary)
            return dg.MaterializeResult(metadata={**summary, "dagster/row_count": written})

        return push

    return [plan, build_push(pos, COMMERCETOOLS), build_push(COMMERCETOOLS, pos)]


def _plan_table(writes: pd.DataFrame) -> pd.DataFrame:
    table = writes.copy()
    table["changes"] = [",".join(c) for c in table["changes"]] if len(table) else pd.Series(dtype=str)
    return table if len(table) else table.astype(dict.fromkeys(PLAN_COLUMNS, str))


def _from_table(table: pd.DataFrame) -> pd.DataFrame:
    rows = table.copy()
    if len(rows):
        rows["changes"] = [c.split(",") if c else [] for c in rows["changes"]]
        rows["target_id"] = rows["target_id"].astype(object).where(rows["target_id"].notna(), None)
    return rows


def _outcomes(writes: pd.DataFrame, statuses: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=str) for c in ("idempotency_key", "source_id", "action", "status")})
    if len(writes):
        frame = writes[["idempotency_key", "source_id", "action"]].copy()
        frame["status"] = [statuses.get(k, "not_sent") for k in frame["idempotency_key"]]
    return frame


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[a for pos in configured_pos() for a in build_customer_flow(pos)])
