"""The code location: autoload defs/, then apply project-wide policy once."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(project_root=Path(__file__).parent.parent)
    return dg.Definitions.merge(loaded, _analysts_copy_after(loaded))


def _analysts_copy_after(loaded: dg.Definitions) -> dg.Definitions:
    """The analysts' copy, downstream of every asset the folder defines: whatever a run materializes,
    the copy is published once that work is done."""
    from omnisync_pipelines.defs.analysts_copy import analysts_copy_asset

    keys = [spec.key for spec in loaded.resolve_all_asset_specs()]
    return dg.Definitions(assets=[analysts_copy_asset(keys)])
