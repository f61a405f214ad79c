"""The configuration file is validated at load, and every error names the key to fix."""

import pytest

from omnisync_pipelines.config import ConfigError, load_config, parse_config

GOOD = {
    "pos": "lightspeed_x",
    "systems": {
        "commercetools": {"api_url": "https://api.example", "auth_url": "https://auth.example", "project_key": "shop"},
        "lightspeed_x": {"base_url": "https://shop.retail.lightspeed.app", "domain_prefix": "shop", "registers": 3},
    },
    "locations": [
        {"key": "berlin", "commercetools": {"supply_channel_key": "store-berlin"}, "lightspeed_x": {"outlet_id": "o-1"}},
        {"key": "munich", "commercetools": {"supply_channel_key": "store-munich"}, "lightspeed_x": {"outlet_id": "o-2"}},
    ],
}


def test_a_good_file_gives_both_location_maps():
    config = parse_config(GOOD)
    assert config.ct_channel_map() == {"store-berlin": "berlin", "store-munich": "munich"}
    assert config.pos_location_map() == {"o-1": "berlin", "o-2": "munich"}
    assert config.stock.negative_stock_policy == "allow_negative_and_report"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["locations"][1].pop("lightspeed_x"), "locations[1].lightspeed_x"),
        (lambda c: c["locations"][1].update(key="berlin"), "duplicate location key 'berlin'"),
        (lambda c: c["systems"]["commercetools"].pop("project_key"), "systems.commercetools.project_key"),
        (lambda c: c.update(pos="square"), "pos"),
        (lambda c: c["locations"][0].update(colour="red"), "locations.0.colour"),
        (lambda c: c.update(stock={"negative_stock_policy": "yolo"}), "stock.negative_stock_policy"),
        (lambda c: c.update(locations=[]), "locations"),
    ],
)
def test_a_bad_file_names_the_key_to_fix(mutate, message):
    import copy

    raw = copy.deepcopy(GOOD)
    mutate(raw)
    with pytest.raises(ConfigError) as error:
        parse_config(raw, source="omnisync.yaml")
    assert message in str(error.value)
    assert str(error.value).startswith("omnisync.yaml:")


def test_a_missing_file_says_how_to_get_one(tmp_path):
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yaml")


def test_the_online_prepayment_type_reaches_the_x_series_connector():
    import copy

    from omnisync_pipelines.connectors.registry import build_connector

    raw = copy.deepcopy(GOOD)
    raw["systems"]["lightspeed_x"]["online_payment_type"] = "Paid Online"
    connector = build_connector("lightspeed_x", parse_config(raw), {"personal_token": "t"})
    assert connector.online_payment_type == "Paid Online"
    assert build_connector("lightspeed_x", parse_config(GOOD), {"personal_token": "t"}).online_payment_type is None


def test_an_integrator_can_turn_graphql_batching_off_for_commercetools():
    import copy

    from omnisync_pipelines.connectors.registry import build_connector

    secrets = {"client_id": "id", "client_secret": "secret"}
    assert build_connector("commercetools", parse_config(GOOD), secrets).batches_stock_writes is True
    raw = copy.deepcopy(GOOD)
    raw["systems"]["commercetools"].update(graphql_writes=False, graphql_batch_size=50)
    connector = build_connector("commercetools", parse_config(raw), secrets)
    assert connector.batches_stock_writes is False
    assert connector.client.settings.graphql_batch_size == 50
    raw["systems"]["commercetools"]["graphql_batch_size"] = 0
    with pytest.raises(ConfigError, match="systems.commercetools.graphql_batch_size"):
        parse_config(raw)
