"""The code location: autoload defs/, then apply project-wide policy once: owners, tags, stage kinds
and column schemas on every asset (`defs/asset_policy.py`), stock freshness (`defs/freshness.py`),
and the executor.

In process, not multiprocess: nearly every step writes DuckDB and so waits for the one-slot pool
"duckdb" (dagster.yaml) whatever the executor, and a process per step only added an interpreter
start and a definitions load to each: a full sync of the sandbox world took 12x as long
(docs/operations.md, "Executor"). The stock pushes, outside the pool, run one after the other too.
"""

import warnings
from pathlib import Path

import dagster as dg

from omnisync_pipelines.defs.asset_policy import described
from omnisync_pipelines.defs.freshness import with_stock_freshness

EXECUTOR = dg.in_process_executor

# Dagster 1.13 marks the spec mapping as preview and warns on every load (webserver, daemon, each run)
warnings.filterwarnings("ignore", r"Function `Definitions\.map_(resolved_)?asset_specs`", dg.PreviewWarning)


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    merged = dg.Definitions.merge(loaded, _analysts_copy_after(loaded), dg.Definitions(executor=EXECUTOR))
    fresh = with_stock_freshness()
    return merged.map_asset_specs(func=lambda spec: fresh(described(spec)))


def _analysts_copy_after(loaded: dg.Definitions) -> dg.Definitions:
    """The analysts' copy, downstream of every asset the folder defines: whatever a run materializes,
    the copy is published once that work is done."""
    from omnisync_pipelines.defs.analysts_copy import analysts_copy_asset

    keys = [spec.key for spec in loaded.resolve_all_asset_specs()]
    return dg.Definitions(assets=[analysts_copy_asset(keys)])
