"""Schema migrations of the operational store (Alembic, configured here: no alembic.ini).

`OpsStore.from_url(create=True)` calls `ensure_schema`: one query reads the revision the database is
at; at `HEAD` that is all. Otherwise, one process at a time (PostgreSQL: a transaction-scoped advisory
lock per schema; SQLite: BEGIN IMMEDIATE, the file's write lock) upgrades it to head in a single
transaction; a process that waited finds the database at head and does nothing.

- a new database: revision 0001 creates every table, 0002... follow;
- a database release 0.1.0 created (tables, no version table): 0001 creates only what is missing,
  then the later revisions run;
- a database at a revision this code does not know (a newer release's, after a rollback): left as
  it is, with a warning (revisions must stay backward compatible, so the older code runs on it).

The revision is kept in `ops_alembic_version`, not Alembic's default `alembic_version`: the ops
store may share a PostgreSQL database (and schema) with Dagster's storage, which has its own.

Developers: `python -m omnisync_pipelines.store.migrations <alembic command>` (revision, upgrade,
current, history, ...) against OMNISYNC_OPS_URL or `-x url=...`; see docs (Upgrading).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from sqlalchemy import Engine, MetaData, text
from sqlalchemy.exc import DBAPIError

VERSION_TABLE = "ops_alembic_version"
REVISIONS = ("0001", "0002")  # oldest first; a test holds this to the versions/ folder
HEAD = REVISIONS[-1]
SCRIPT_LOCATION = Path(__file__).resolve().parent
_LOCK = "hashtext('omnisync_ops_migrations:' || coalesce(current_schema(), ''))"


def target_metadata() -> MetaData:
    """The head schema: every table the store declares (some modules register theirs on import)."""
    from omnisync_pipelines.store import audit, crosswalk  # noqa: F401
    from omnisync_pipelines.store.tables import metadata

    return metadata


def alembic_config(url: str | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None when it has no version table (new, or 0.1.0's)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except DBAPIError:
        return None


def differences(engine: Engine) -> list:
    """What Alembic's autogenerate finds between the database and the head metadata (empty: in step)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        return compare_metadata(context, target_metadata())


def ensure_schema(engine: Engine) -> str:
    """Bring the database to head; one cheap query when it is there. Returns the revision it is at."""
    revision = current_revision(engine)
    if revision == HEAD:
        return revision
    if revision is not None and revision not in REVISIONS:
        warnings.warn(f"the operational store is at revision {revision}, unknown to this release (head {HEAD}): "
                      "a newer release's schema, left as it is", stacklevel=2)
        return revision
    upgrade(engine)
    return HEAD


def lock(conn) -> None:
    """Begin `conn`'s transaction holding the migration lock: one process migrates at a time, the
    others wait here and then find the revision it committed."""
    if conn.dialect.name == "postgresql":  # per database and schema; released at commit or rollback
        conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK})"))
    elif conn.dialect.name == "sqlite":  # the file's write lock now, not at the first write (waits busy_timeout)
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(engine: Engine, target: str = "head") -> None:
    """Run the migrations to `target` in one transaction, one process at a time; idempotent."""
    from alembic import command

    with engine.connect() as conn:
        lock(conn)
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, target)
        conn.commit()
