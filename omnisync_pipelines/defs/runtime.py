"""What every asset does at the edge: pick the mode, open a connector, log its API calls."""


import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypeVar

import dagster as dg

from omnisync_pipelines.config import OmnisyncConfig
from omnisync_pipelines.connectors.registry import open_connector
from omnisync_pipelines.defs.specs import MODE_TAG
from omnisync_pipelines.store.ops import CallLogBuffer, OpsStore

T = TypeVar("T")


def run_mode(context: dg.AssetExecutionContext) -> str:
    mode = context.run.tags.get(MODE_TAG, "delta")
    if mode not in ("full", "delta"):
        raise dg.Failure(f"run tag {MODE_TAG}={mode!r}: expected 'full' or 'delta'", allow_retries=False)
    return mode


def with_connector(
    system: str, config: OmnisyncConfig, secrets: dict, ops: OpsStore, work: Callable[[object], Awaitable[T]]
) -> T:
    """Open the system's connector, run `work(connector)`, and store the calls it made."""
    call_log = CallLogBuffer(ops)

    async def main() -> T:
        async with open_connector(system, config, secrets, call_log=call_log) as connector:
            return await work(connector)

    try:
        return asyncio.run(main())
    finally:
        call_log.flush()


def secrets_for(system: str, resources: dict) -> dict:
    return resources[system].secrets()


@asynccontextmanager
async def open_estate(config: OmnisyncConfig, secrets: dict[str, dict], *, call_log=None) -> AsyncIterator[tuple]:
    """commercetools' connector and one per configured POS (a list in `config.pos_systems` order), closed together."""
    async with AsyncExitStack() as stack:
        ct = await stack.enter_async_context(open_connector("commercetools", config, secrets["commercetools"], call_log=call_log))
        pos = [await stack.enter_async_context(open_connector(p, config, secrets[p], call_log=call_log))
               for p in config.pos_systems]
        yield ct, pos
