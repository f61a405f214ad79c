"""PostgreSQL test helpers: the test server's URL, a throwaway schema or database per test.

Tests marked `postgres` read OMNISYNC_TEST_PG_URL. Two drivers: the ops store goes through psycopg 3
(`pg_ops_url`, what `OpsStore.from_url` picks for `postgresql://`), Dagster's instance storage
(dagster-postgres) through psycopg2 (`pg_server_url`). `throwaway_ops_store` uses psycopg 3 whatever
driver its URL names, unless told otherwise. An unreachable server skips them with the reason,
except under CI=true, where it fails them: CI must not pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

PG_URL_ENV = "OMNISYNC_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


OPS_DRIVER = "postgresql+psycopg"  # psycopg 3, the ops store's driver
DAGSTER_DRIVER = "postgresql+psycopg2"  # dagster-postgres's


def pg_server_url() -> URL:
    """The test server's URL with the psycopg2 driver, for Dagster's storage (dagster-postgres)."""
    return make_url(os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)).set(drivername=DAGSTER_DRIVER)


def pg_ops_url() -> URL:
    """The test server's URL with psycopg 3, the ops store's driver."""
    return pg_server_url().set(drivername=OPS_DRIVER)


def require_pg_server(url: URL) -> None:
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        reason = f"PostgreSQL at {url.render_as_string(hide_password=True)} unreachable ({PG_URL_ENV}): {first_line}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        engine.dispose()


def _unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextmanager
def throwaway_schema(url: URL) -> Iterator[dict]:
    """A fresh schema; yields the `connect_args` that put it first on the search_path."""
    schema = _unique_name("omnisync_test")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield {"options": f"-csearch_path={schema}"}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def throwaway_database(url: URL) -> Iterator[URL]:
    """A fresh database on the test server (created from `postgres`); yields its URL."""
    name = _unique_name("omnisync_test")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def throwaway_ops_store(url: URL, driver: str = OPS_DRIVER) -> Iterator:
    """An OpsStore (through `driver`: psycopg 3 by default) whose tables live in a throwaway schema of
    the server at `url`."""
    from omnisync_pipelines.store.ops import OpsStore

    with throwaway_schema(url) as connect_args:
        ops = OpsStore.from_url(url.set(drivername=driver).render_as_string(hide_password=False), connect_args=connect_args)
        try:
            yield ops
        finally:
            ops.engine.dispose()
