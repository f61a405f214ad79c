"""Fixtures for tests against the PostgreSQL named by OMNISYNC_TEST_PG_URL."""

import pytest
from sqlalchemy import URL

from omnisync_pipelines_tests.postgres import (
    pg_ops_url,
    pg_server_url,
    require_pg_server,
    throwaway_ops_store,
)


@pytest.fixture
def pg_url() -> URL:
    """The test server, through psycopg2 (Dagster's instance storage)."""
    url = pg_server_url()
    require_pg_server(url)
    return url


@pytest.fixture
def pg_ops_server() -> URL:
    """The test server, through psycopg 3 (the ops store)."""
    url = pg_ops_url()
    require_pg_server(url)
    return url


@pytest.fixture
def pg_ops(pg_url):
    """An OpsStore (psycopg 3) whose tables live in a schema of this test's own, dropped afterwards."""
    with throwaway_ops_store(pg_url) as ops:
        yield ops
