"""A second, minimal POS registered from inside the test suite: "till_box", a till vendor whose
webhooks arrive as an event stream with our secret in a header. It implements the connector side of
the contract just far enough to prove that a POS is one plugin and a registry line: configuration
blocks, credentials from the environment, a connector that reads nothing, and its webhooks.
Real POS come in their own packages."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import dagster as dg
from pydantic import BaseModel, ConfigDict

from omnisync_pipelines import systems
from omnisync_pipelines.connectors.base import ReadResult
from omnisync_pipelines.connectors.pos import Capabilities, PosPlugin, WebhookSpec
from omnisync_pipelines.webhooks.events import parse_event_stream

STAND_IN = "till_box"
RELAYED = "till_relay"  # a second stand-in without webhooks of its own: deliveries come from a relay
TOKEN = "OMNISYNC_TILL_BOX_TOKEN"


class TillBoxSystem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    base_url: str


class TillBoxLocation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    shop_id: str


class TillBoxCredentials(dg.ConfigurableResource):
    token: str

    def secrets(self) -> dict:
        return {"token": self.token}


class TillBoxConnector:
    system = STAND_IN

    def __init__(self, location_map: dict[str, str]):
        self.location_map = location_map

    async def read(self, entity: str, *, since: str | None = None) -> ReadResult:
        return ReadResult(tables={}, cursor=since)

    async def aclose(self) -> None:
        pass


class TillBoxPlugin(PosPlugin):
    system = STAND_IN
    title = "Till Box (test stand-in)"
    capabilities = Capabilities(stock_writes="absolute", events="webhooks", returns_restock_at_register=False)
    settings_model = TillBoxSystem
    location_model = TillBoxLocation
    location_id_field = "shop_id"
    webhooks = WebhookSpec(parse=lambda route, media, body, headers: parse_event_stream(STAND_IN, route, media, body, headers),
                           query_token=False)

    def credentials_resource(self, env: Mapping[str, str] = os.environ):
        return TillBoxCredentials(token=dg.EnvVar(TOKEN))

    def secrets_from_env(self, env: Mapping[str, str] = os.environ) -> dict:
        if not env.get(TOKEN):
            raise KeyError(TOKEN)
        return {"token": env[TOKEN]}

    def build_connector(self, settings, location_map, secrets, *, call_log=None, transport=None, location_blocks=None,
                        former_locations=None):
        return TillBoxConnector(location_map)


class RelayedTillPlugin(TillBoxPlugin):
    system = RELAYED
    title = "Till relay (test stand-in)"
    webhooks = None


@contextmanager
def stand_in_registered() -> Iterator[str]:
    """The stand-in POS (and its relayed sibling) in the registry for the duration; yields the first id."""
    systems.register_pos(STAND_IN, TillBoxPlugin())
    systems.register_pos(RELAYED, RelayedTillPlugin())
    try:
        yield STAND_IN
    finally:
        systems.unregister_pos(RELAYED)
        systems.unregister_pos(STAND_IN)
