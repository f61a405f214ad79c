"""Fixtures for tests against the PostgreSQL named by OMNISYNC_TEST_PG_URL."""

import pytest
from sqlalchemy import URL

from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.postgres import pg_server_url, require_pg_server, throwaway_schema


@pytest.fixture
def pg_url() -> URL:
    url = pg_server_url()
    require_pg_server(url)
    return url


@pytest.fixture
def pg_ops(pg_url):
    """An OpsStore whose tables live in a schema of this test's own, dropped afterwards."""
    with throwaway_schema(pg_url) as connect_args:
        ops = OpsStore.from_url(pg_url.render_as_string(hide_password=False), connect_args=connect_args)
        try:
            yield ops
        finally:
            ops.engine.dispose()
