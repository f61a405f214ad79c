"""The configuration and secrets of a deployment against one served POS emulator alone (no
commercetools behind it): what the POS-only conformance suites build their connectors from."""

from __future__ import annotations

from omnisync_pipelines import systems
from omnisync_pipelines.config import parse_config


def pos_only_settings(pos: str, base_url: str, emulator, world, loaded):
    """(config, secrets) for `pos` served at `base_url` with `world` loaded (`loaded`: what the
    sandbox plugin's load returned); commercetools is named but never reached."""
    sandbox = systems.sandbox_plugin(pos)
    config = parse_config({
        "pos": pos,
        "systems": {"commercetools": {"api_url": "http://ct.invalid", "auth_url": "http://ct.invalid",
                                      "project_key": "p"},
                    pos: sandbox.system_block(base_url, emulator)},
        "locations": [{"key": store.key, "commercetools": {"supply_channel_key": store.channel_key},
                       pos: loaded.location_blocks[store.key]} for store in world.stores],
    })
    return config, systems.pos_plugin(pos).secrets_from_env(sandbox.environment(base_url, emulator))
