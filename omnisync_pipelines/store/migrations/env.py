"""Alembic environment of the operational store: run by `migrations.upgrade` (which passes its
connection, already in the transaction that holds the migration lock) or by the developer CLI
(`python -m omnisync_pipelines.store.migrations`, which connects to `-x url=...` or OMNISYNC_OPS_URL)."""

from __future__ import annotations

from alembic import context

from omnisync_pipelines.store.migrations import VERSION_TABLE, lock, target_metadata


def _configure(**kwargs) -> None:
    context.configure(target_metadata=target_metadata(), version_table=VERSION_TABLE, compare_type=True, **kwargs)


def _url() -> str:
    from omnisync_pipelines.store.ops import ops_url_from_env

    return context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url") \
        or ops_url_from_env()


def _run(connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():  # a no-op inside the caller's transaction
        context.run_migrations()


if context.is_offline_mode():
    _configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := context.config.attributes.get("connection")) is not None:
    _run(connection)
else:
    from omnisync_pipelines.store.ops import OpsStore

    engine = OpsStore.from_url(_url(), create=False).engine
    try:
        with engine.connect() as connection:
            lock(connection)
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()
