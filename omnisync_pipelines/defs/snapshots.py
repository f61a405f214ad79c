"""Snapshot assets: one per (system, entity), each table validated by its pandera schema.

A full run re-reads everything and replaces the tables; a delta run reads from the stored cursor
and merges what changed. Records that cannot be mapped go to the rejected-records table with their
reason.

For a POS whose API has a budget worth planning against (`PosPlugin.request_estimate`: R-Series's
leaky bucket), a full read first logs what it will cost and how long it takes at the account's rate,
sized by the rows the table holds now, and every read records what it cost (`api_budget`).

Every table of a read is validated before anything is written: if one fails its schema, none is
written (the tables keep their last valid contents, which the `reconcile` job and analysts read
without re-running this check), the cursor stays where it was, and the failed blocking check
fails the step so that no plan or push downstream runs.
"""


import dagster as dg
import pandera.errors as pa_errors

from omnisync_pipelines import systems
from omnisync_pipelines.canonical import schemas
from omnisync_pipelines.connectors.base import LocationMapError
from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.defs.runtime import run_mode, with_connector
from omnisync_pipelines.defs.specs import (
    TABLE_KEYS,
    SnapshotSpec,
    configured_pos,
    delta_merge_parents,
    snapshot_specs,
)
from omnisync_pipelines.store import warehouse

SCHEMA_CHECK = "matches_canonical_schema"



def snapshot_flow(system: str, entity: str) -> str:
    """The flow a snapshot's mapping rejections are recorded under in the rejected-records table."""
    return f"snapshot/{system}/{entity}"


def build_snapshot_asset(spec: SnapshotSpec) -> dg.AssetsDefinition:
    keys = [dg.AssetKey([spec.system, table]) for table in spec.tables]

    @dg.multi_asset(
        name=spec.name,
        specs=[
            dg.AssetSpec(
                key,
                skippable=True,  # not materialized when the read fails its schema: nothing was written
                group_name=spec.system,
                kinds={spec.system, "duckdb"},
                description=f"{spec.system} {key.path[1].replace('_', ' ')} in the canonical model "
                f"(DuckDB table {spec.system}.{key.path[1]}), read through the {spec.system} API.",
            )
            for key in keys
        ],
        check_specs=[dg.AssetCheckSpec(SCHEMA_CHECK, asset=key, blocking=True) for key in keys],
        pool="duckdb",
        can_subset=False,
        required_resource_keys={"omnisync", spec.system},
    )
    def snapshot(context: dg.AssetExecutionContext):
        omnisync: OmnisyncResource = context.resources.omnisync
        config = omnisync.load_config()
        if spec.system != "commercetools" and spec.system not in config.pos_systems:
            raise dg.Failure(f"{spec.system} is not a POS of the configuration (no location trades on it; "
                             f"configured: {', '.join(config.pos_systems)})", allow_retries=False)
        ops = omnisync.ops_store()
        mode = run_mode(context)
        since = ops.get_cursor(spec.cursor_name) if mode == "delta" else None
        secrets = getattr(context.resources, spec.system).secrets()
        plugin = systems.pos_plugin(spec.system) if spec.system in config.pos_systems else None
        expected = _rows_held(omnisync, spec) if mode == "full" and plugin is not None else None

        async def read(connector):
            if expected and (estimate := plugin.request_estimate(connector, {spec.entity: expected})):
                context.log.info(f"{spec.system} {spec.entity}: reading about {expected} records: {estimate}")
            result = await _verified_read(connector, spec.entity, since)
            return result, plugin.request_estimate(connector, {spec.entity: result.raw_count}) if plugin else None

        try:  # a location map the system does not match stops the run here, before any push writes
            result, cost = with_connector(spec.system, config, secrets, ops, read)
        except LocationMapError as exc:  # a configuration problem: a retry would meet it again
            raise dg.Failure(str(exc), allow_retries=False) from exc
        ops.add_rejections(snapshot_flow(spec.system, spec.entity), result.rejected)

        frames = {t: schemas.frame_from_records(t, result.tables.get(t, [])) for t in spec.tables}
        failures = {table: _validate(table, frame) for table, frame in frames.items()}
        all_valid = all(f is None for f in failures.values())
        if all_valid:
            with omnisync.warehouse() as con:
                for table, key in zip(spec.tables, keys, strict=True):
                    rejected = sum(1 for r in result.rejected if r.entity in (table, spec.entity))
                    yield _write(con, spec.system, table, key, frames, replace=since is None,
                                 metadata={"mode": mode, "rejected": rejected, "cursor": result.cursor or "",
                                           **({"api_budget": cost} if cost else {})})
        for table, key in zip(spec.tables, keys, strict=True):
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=SCHEMA_CHECK,
                passed=failures[table] is None,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "records_read": len(frames[table]),
                    "failure_cases": dg.MetadataValue.md(failures[table] or "none"),
                    "written": all_valid,
                },
            )
        if all_valid and result.cursor:
            ops.set_cursor(spec.cursor_name, result.cursor, {"mode": mode, "records": result.raw_count, "run_id": context.run_id})

    return snapshot


def _rows_held(omnisync: OmnisyncResource, spec: SnapshotSpec) -> int | None:
    """The rows the snapshot's tables hold now: the size of the next full read (None before the first)."""
    with omnisync.warehouse() as con:
        held = [con.execute(f"SELECT count(*) FROM {spec.system}.{t}").fetchall()[0][0]
                for t in spec.tables if warehouse.table_exists(con, spec.system, t)]
    return max(held) if held else None


async def _verified_read(connector, entity: str, since: str | None):
    verify = getattr(connector, "verify_locations", None)
    if verify is not None:
        await verify()
    return await connector.read(entity, since=since)


def _write(
    con, system: str, table: str, key: dg.AssetKey, frames: dict, *, replace: bool, metadata: dict
) -> dg.MaterializeResult:
    frame = frames[table]
    if replace:
        warehouse.replace_table(con, system, table, frame)
    else:
        warehouse.upsert_table(con, system, table, frame, list(TABLE_KEYS[table]), **delta_merge_parents(system, table, frames))
    total = con.execute(f"SELECT count(*) FROM {system}.{table}").fetchall()[0][0]
    return dg.MaterializeResult(
        asset_key=key,
        metadata={
            **metadata,
            "records_read": len(frame),
            "rows_in_table": int(total),
            "dagster/row_count": int(total),
            "preview": dg.MetadataValue.md(frame.head(5).to_markdown(index=False)) if len(frame) else "",
        },
    )


def _validate(table: str, frame) -> str | None:
    try:
        schemas.validate(table, frame)
        return None
    except pa_errors.SchemaErrors as exc:
        return exc.failure_cases.head(20).to_markdown(index=False)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_snapshot_asset(spec) for spec in snapshot_specs(configured_pos())])
