"""Checks made before the CLI starts a run: what an operator set up wrong is said in one short
message naming the file, key or variable to fix (the CLI exits 2), instead of a failed run."""

from __future__ import annotations

import os

from omnisync_pipelines.config import ConfigError, OmnisyncConfig, load_config


class SetupProblem(Exception):
    """Something the operator must fix before any run can succeed."""


def check_setup(env=os.environ) -> OmnisyncConfig:
    """DAGSTER_HOME, the configuration file and every secret the configured systems need."""
    from omnisync_pipelines.operator_commands import secrets_from_env
    from omnisync_pipelines.runs import DagsterHomeMissing, dagster_instance

    try:
        dagster_instance().dispose()
    except DagsterHomeMissing as exc:
        raise SetupProblem(str(exc)) from None
    try:
        config = load_config()
    except ConfigError as exc:
        raise SetupProblem(f"configuration: {exc}") from None
    try:
        secrets = secrets_from_env(config, env)
    except KeyError as exc:
        raise SetupProblem(f"secret missing: {exc.args[0]} is not set or empty (the configuration at "
                           f"{config_path(env)} needs it; set it in the environment)") from None
    for system, values in secrets.items():
        for name, value in values.items():
            if isinstance(value, str) and not value.strip():
                raise SetupProblem(f"secret {name} of {system} is empty: set its environment variable")
    return config


def config_path(env=os.environ) -> str:
    from omnisync_pipelines.config import DEFAULT_CONFIG_PATH

    return env.get("OMNISYNC_CONFIG", DEFAULT_CONFIG_PATH)
