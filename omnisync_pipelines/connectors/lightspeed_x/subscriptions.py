"""Register our webhook receiver with X-Series (`omnisync webhooks register`).

One subscription per type, the type in the URL path and our per-retailer secret in the query
(X-Series lets an app choose only the URL, and does not sign deliveries):
`<receiver>/webhooks/lightspeed_x/<type>?token=<OMNISYNC_WEBHOOK_SECRET_LIGHTSPEED_X>`. Registering
again creates nothing (`ensure_webhook` finds the existing subscription). Output never shows the secret.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from omnisync_pipelines.connectors.lightspeed_x.client import LightspeedXClient
from omnisync_pipelines.connectors.lightspeed_x.credentials import MissingCredential, secrets_from_env
from omnisync_pipelines.connectors.lightspeed_x.writes import WEBHOOK_TYPES

SECRET_ENV = "OMNISYNC_WEBHOOK_SECRET_LIGHTSPEED_X"
# what omnisync acts on; the others (register closures, consignments) can be asked for with --types
DEFAULT_TYPES = ("sale.update", "product.update", "customer.update", "inventory.update")


@dataclass(frozen=True)
class Registration:
    type: str
    webhook_id: str
    created: bool  # False: the subscription was already there
    active: bool


def receiver_url(base_url: str, kind: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}/webhooks/lightspeed_x/{kind}?token={quote(secret, safe='')}"


def wanted_types(types: Iterable[str] | None) -> list[str]:
    """`--types a,b --types c` -> [a, b, c]; unknown names are refused before anything is written."""
    chosen = [t.strip() for item in (types or DEFAULT_TYPES) for t in item.split(",") if t.strip()]
    if unknown := [t for t in chosen if t not in WEBHOOK_TYPES]:
        raise ValueError(f"unknown webhook type {', '.join(unknown)}; one of {', '.join(WEBHOOK_TYPES)}")
    return list(dict.fromkeys(chosen))


async def register_webhooks(client: LightspeedXClient, base_url: str, secret: str,
                            types: Iterable[str] | None = None) -> list[Registration]:
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"--url {base_url!r}: the receiver's base URL, e.g. https://hooks.example.com")
    kinds = wanted_types(types)
    before = {(w.get("url"), w.get("type")) for w in await client.list_webhooks()}
    registered = []
    for kind in kinds:
        url = receiver_url(base_url, kind, secret)
        hook = await client.ensure_webhook(url, kind)
        registered.append(Registration(kind, hook["id"], (url, kind) not in before, bool(hook.get("active", True))))
    return registered


def register_from_env(base_url: str, types: list[str] | None, echo: Callable[[str], None], *,
                      env: Mapping[str, str] = os.environ,
                      transport: httpx.AsyncBaseTransport | None = None) -> int:
    """The command: configuration from `OMNISYNC_CONFIG`, X-Series secrets and our webhook secret
    from the environment. Returns the exit code."""
    from omnisync_pipelines.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
    from omnisync_pipelines.connectors.registry import open_connector
    from omnisync_pipelines.rest.errors import ApiError

    secret = env.get(SECRET_ENV)
    if not secret:
        echo(f"{SECRET_ENV} is not set: the receiver would refuse every delivery; set it first")
        return 2
    try:
        secrets = secrets_from_env(env)
        kinds = wanted_types(types)
    except (MissingCredential, ValueError) as exc:
        echo(str(exc))
        return 2
    try:
        config = load_config(env.get("OMNISYNC_CONFIG", DEFAULT_CONFIG_PATH))
    except ConfigError as exc:
        echo(str(exc))
        return 2

    async def main() -> list[Registration]:
        async with open_connector("lightspeed_x", config, secrets, transport=transport) as connector:
            return await register_webhooks(connector.client, base_url, secret, kinds)

    try:
        registered = asyncio.run(main())
    except (ApiError, ValueError) as exc:
        echo(f"registration failed: {exc}")
        return 1
    for done in registered:
        state = "created" if done.created else "already registered"
        inactive = "" if done.active else " (inactive: enable it in X-Series)"
        echo(f"{done.type}: {state} ({done.webhook_id}) -> {receiver_url(base_url, done.type, '***')}{inactive}")
    return 0
