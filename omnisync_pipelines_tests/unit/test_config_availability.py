"""availability.channels (flow 7) is validated at load: each aggregate channel is a channel of its own."""

import copy

import pytest

from omnisync_pipelines.config import ConfigError, parse_config
from omnisync_pipelines_tests.unit.test_config import GOOD


def with_channels(channels: dict) -> dict:
    raw = copy.deepcopy(GOOD)
    raw["availability"] = {"channels": channels}
    return raw


def test_an_aggregate_channel_of_its_own_is_accepted():
    config = parse_config(with_channels({"online-eu": ["berlin", "munich"]}))
    assert config.availability.channels == {"online-eu": ["berlin", "munich"]}


def test_a_stores_own_supply_channel_cannot_be_an_aggregate_channel():
    with pytest.raises(ConfigError) as error:
        parse_config(with_channels({"store-berlin": ["berlin", "munich"]}), source="omnisync.yaml")
    message = str(error.value)
    assert message.startswith("omnisync.yaml:")
    assert "availability.channels.store-berlin" in message and "supply channel of location 'berlin'" in message


def test_an_aggregate_channel_of_unknown_stores_names_them():
    with pytest.raises(ConfigError, match=r"availability.channels.online-eu: unknown locations \['paris'\]"):
        parse_config(with_channels({"online-eu": ["berlin", "paris"]}))
