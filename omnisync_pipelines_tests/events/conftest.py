"""The running sandbox and a Dagster test instance, as in defs/ (one world per test module)."""

from omnisync_pipelines_tests.defs.conftest import instance, sandbox  # noqa: F401  (fixtures)
