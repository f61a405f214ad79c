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
    assert config.pos_location_map("lightspeed_x") == {"o-1": "berlin", "o-2": "munich"}
    assert config.pos_systems == ("lightspeed_x",)
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


# a mixed estate: two POS in one file ---------------------------------------------------------------
def mixed_estate(stand_in: str) -> dict:
    import copy

    raw = copy.deepcopy(GOOD)
    del raw["pos"]
    raw["systems"][stand_in] = {"base_url": "https://tills.example"}
    raw["locations"].append({"key": "hamburg", "pos": stand_in, "commercetools": {"supply_channel_key": "store-hamburg"},
                             stand_in: {"shop_id": "shop-7"}})
    return raw


def test_a_chain_on_two_pos_maps_each_store_to_its_own():
    from omnisync_pipelines_tests.stand_in_pos import stand_in_registered

    with stand_in_registered() as stand_in:
        config = parse_config(mixed_estate(stand_in))
        assert config.pos_systems == ("lightspeed_x", stand_in)
        assert config.pos_location_map("lightspeed_x") == {"o-1": "berlin", "o-2": "munich"}
        assert config.pos_location_map(stand_in) == {"shop-7": "hamburg"}
        assert [config.pos_of(loc) for loc in config.locations] == ["lightspeed_x", "lightspeed_x", stand_in]
        assert config.restock_via(stand_in) == "return"  # its returns do not move its count
        assert config.restock_via("lightspeed_x") == "stock_flow"


def test_a_store_moving_to_the_new_pos_keeps_its_old_id_and_trades_on_the_new_one():
    from omnisync_pipelines_tests.stand_in_pos import stand_in_registered

    with stand_in_registered() as stand_in:
        raw = mixed_estate(stand_in)
        raw["locations"][1].update(pos=stand_in, **{stand_in: {"shop_id": "shop-9"}})  # munich switches tills
        config = parse_config(raw)
        assert config.pos_location_map("lightspeed_x") == {"o-1": "berlin"}
        assert config.pos_location_map(stand_in) == {"shop-9": "munich", "shop-7": "hamburg"}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c, s: c["locations"][2].pop("pos"), "locations[2].pos: location 'hamburg' names no POS"),
        (lambda c, s: c["locations"][2].update(pos="square"), "locations[2].pos: unknown POS 'square'"),
        (lambda c, s: c["locations"][2].pop(s), "locations[2].till_box: location 'hamburg' has no mapping"),
        (lambda c, s: c["systems"].pop(s), "systems.till_box: location 'hamburg' trades on till_box"),
        (lambda c, s: c.update(fulfilment={"fallback_stores": {"berlin": ["hamburg"]}}),
         "fulfilment.fallback_stores.berlin: hamburg trade on another POS"),
        (lambda c, s: c["locations"][2][s].update(till="x"), "locations.2.till_box.till"),
    ],
)
def test_a_bad_mixed_estate_names_the_key_to_fix(mutate, message):
    from omnisync_pipelines_tests.stand_in_pos import stand_in_registered

    with stand_in_registered() as stand_in:
        raw = mixed_estate(stand_in)
        raw["locations"][2]["lightspeed_x"] = {"outlet_id": "o-3"}  # two blocks: the POS must be named
        mutate(raw, stand_in)
        with pytest.raises(ConfigError) as error:
            parse_config(raw, source="omnisync.yaml")
    assert message in str(error.value)
