"""Everything Dagster autoloads: resources, assets from small factories, jobs, schedules."""
