"""`analysts/warehouse`: the analysts' copy of the warehouse, published when a run has done its work.

It depends on every other asset of the code location (wired in `definitions.py`), so in any run it
comes last, and a run whose work failed leaves the previous copy in place (see `store/read_copy.py`).
On a lake (production) it also expires the snapshots older than the history kept (`store/lake.py`).
"""

from collections.abc import Iterable

import dagster as dg

from omnisync_pipelines.defs.resources import OmnisyncResource
from omnisync_pipelines.store import lake, read_copy

KEY = dg.AssetKey(["analysts", "warehouse"])
GROUP = "analysts"


def analysts_copy_asset(upstream: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=KEY,
        group_name=GROUP,
        deps=sorted(set(upstream) - {KEY}, key=lambda key: key.to_user_string()),
        kinds={"duckdb"},
        pool="duckdb",
        description="The file analysts open (`duckdb -readonly data/omnisync.analysts.duckdb`): a copy of "
        "the warehouse as of the last run that completed its work, replaced in one rename.",
    )
    def analysts_warehouse(omnisync: OmnisyncResource) -> dg.MaterializeResult:
        with omnisync.warehouse() as con:
            published = read_copy.publish(con, omnisync.analysts_copy_path())
            expired = {"lake_snapshots_expired": lake.expire_history(con)} if lake.is_lake(con) else {}
        return dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(published.path),
            "tables": published.tables,
            "views": published.views,
            "bytes": published.bytes,
            "seconds": published.seconds,
            **expired,
        })

    return analysts_warehouse
