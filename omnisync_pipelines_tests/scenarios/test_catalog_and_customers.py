"""Go-live scenarios of flows 1 and 2 in real Dagster runs against both emulators over sockets.

Contract (issue 9):
- catalog and prices, commercetools -> the POS: a new product appears at the POS as one variant
  family with its barcodes, base price and a store's own price for the store that has one; a catalog
  item with a conflicting price is rejected (record + field) and never reaches the POS; a run after
  the POS took the changes applies nothing; a new variant of a known product joins its family;
- customers, both ways: a customer created at the POS reaches commercetools and one created in
  commercetools reaches the POS; each field is written only in its owner's direction; a private
  field (phone) is never copied; a likely duplicate is reported, not merged or created;
- every write is in the ledger, and the flows settle: the last run applies nothing.
"""

import httpx
import pytest

from omnisync_pipelines.engine.catalog_plan import catalog_flow
from omnisync_pipelines.engine.customers import customers_flow
from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader

# one retailer's story in order (new items and customers, first sync, changes, re-runs): one sandbox


# fixtures ------------------------------------------------------------------------------------
def ct_post(scenario, path: str, body: dict) -> dict:
    async def post():
        async with httpx.AsyncClient(base_url=scenario.box.server.base_url("commercetools"), timeout=30) as ct:
            return await CommercetoolsLoader(ct, scenario.loaded.ct_credentials, scenario.loaded.channel_ids)._post(path, body)

    return scenario.box.server.run(post())


def flows(scenario) -> tuple[str, str, str]:
    """The catalog flow, and the customer flows to commercetools and to the POS."""
    pos = scenario.pos
    return catalog_flow(pos), customers_flow(pos, "commercetools"), customers_flow("commercetools", pos)


def price(cents: int, channel: str | None = None, country: str = "DE") -> dict:
    body = {"value": {"currencyCode": "EUR", "centAmount": cents}, "country": country}
    if channel:
        body["channel"] = {"typeId": "channel", "id": channel}
    return body


def variant(sku: str, size: str, gtin: str, prices: list[dict]) -> dict:
    return {"sku": sku, "prices": prices, "attributes": [
        {"name": "size", "value": size}, {"name": "colour", "value": "GREEN"}, {"name": "gtin", "value": gtin}]}


def new_ct_product(scenario, key: str, name: str, variants: list[dict]) -> None:
    product_type = next(t for t in scenario.ct.store.all("product-type") if t["key"] == "apparel")
    product = ct_post(scenario, "products", {
        "key": key, "name": {"en": name}, "slug": {"en": key}, "productType": {"typeId": "product-type", "id": product_type["id"]},
        "masterVariant": variants[0], "variants": variants[1:]})
    ct_post(scenario, f"products/{product['id']}", {"version": product["version"], "actions": [{"action": "publish"}]})


def pos_product(scenario, sku: str) -> dict | None:
    return scenario.probe.product(sku)


def pos_customer(scenario, **match) -> dict | None:
    return next(iter(scenario.probe.customers(**match)), None)


def ct_customer(scenario, email: str) -> dict | None:
    return next((c for c in scenario.ct.store.all("customer") if (c.get("email") or "").lower() == email), None)


@pytest.fixture(scope="module")
def first_sync(scenario):
    """New items and customers on both sides, then the first full_sync."""
    scenario.configure(customers={"create_missing": {"pos_to_commercetools": True, "commercetools_to_pos": True}})
    munich = scenario.loaded.channel_ids["munich"]
    new_ct_product(scenario, "beanie-green", "Beanie", [
        variant("BEANIE-GREEN-S", "S", "4006381333931", [price(1999)]),
        variant("BEANIE-GREEN-M", "M", "4012345678901", [price(1999), price(2199, channel=munich)]),
    ])
    # two prices for one scope (EUR, DE, no channel, no group) with overlapping validity
    new_ct_product(scenario, "glove-green", "Glove", [
        variant("GLOVE-GREEN-M", "M", "4000000000006", [price(1499), price(1599)]),
    ])
    ct_post(scenario, "customers", {"email": "web.only@example.com", "firstName": "Wen", "lastName": "Online",
                                    "password": "sandbox-Pa55word", "key": "web-only"})
    scenario.probe.add_customer(first_name="Tilly", last_name="Store", email="Tilly.Store@Example.com",
                                phone="+49 30 5550001", loyalty_id="LOY-7777")  # signed up at the till
    scenario.sync("full_sync")
    return scenario


# tests ---------------------------------------------------------------------------------------
def test_a_new_commercetools_product_appears_at_the_pos_with_variants_barcodes_and_store_prices(first_sync):
    small, medium = pos_product(first_sync, "BEANIE-GREEN-S"), pos_product(first_sync, "BEANIE-GREEN-M")
    assert small and medium
    assert small["family"] == medium["family"]  # one product with two variants, not two products
    assert small["name"] == "Beanie" and small["variant_name"] == "Beanie / GREEN / S"
    assert small["barcodes"] == ["4006381333931"]
    assert medium["barcodes"] == ["4012345678901"]
    assert small["price"] == 19.99 and medium["price"] == 19.99
    # munich sells the M at its own price: one price of munich's own, not a second base price
    assert medium["store_prices"] == {"munich": [21.99]} and small["store_prices"] == {}
    prices = first_sync.query(f"SELECT location_key, amount FROM {first_sync.pos_snapshot('prices')} "
                              "WHERE sku = 'BEANIE-GREEN-M' AND location_key IS NOT NULL")
    assert prices.empty  # the snapshot of this run was read before the push; the next run reads it
    ledger = first_sync.ledger(flows(first_sync)[0]).set_index("record_ref")
    assert ledger.loc["BEANIE-GREEN-S", "status"] == "applied" and ledger.loc["BEANIE-GREEN-M", "status"] == "applied"


def test_a_catalog_item_with_a_conflicting_price_never_reaches_the_pos(first_sync):
    assert pos_product(first_sync, "GLOVE-GREEN-M") is None
    catalog = flows(first_sync)[0]
    assert "GLOVE-GREEN-M" not in set(first_sync.ledger(catalog)["record_ref"])
    rejected = first_sync.open_rejections()
    row = rejected[(rejected["flow"] == catalog) & (rejected["record_ref"] == "GLOVE-GREEN-M")]
    assert list(row["field"]) == ["prices"]
    assert row["reason"].iloc[0] == "SKU GLOVE-GREEN-M has two prices for EUR in DE with overlapping validity: 1499 and 1599"


def test_customers_reach_the_other_side_without_private_fields(first_sync):
    tilly = ct_customer(first_sync, "tilly.store@example.com")
    assert tilly is not None
    assert (tilly["firstName"], tilly["lastName"]) == ("Tilly", "Store")
    fields = (tilly.get("custom") or {}).get("fields") or {}
    assert fields.get("loyaltyId") == "LOY-7777"
    assert "phone" not in fields and not tilly.get("addresses")  # phone is private: never copied
    web = ct_customer(first_sync, "web.only@example.com")
    at_pos = pos_customer(first_sync, email="web.only@example.com")
    assert at_pos is not None and at_pos["external_id"] == web["id"]  # the link back
    assert (at_pos["first_name"], at_pos["last_name"]) == ("Wen", "Online")
    links = first_sync.ops.table_frame("crosswalk")
    canonical = links[(links["system"] == "commercetools") & (links["system_id"] == web["id"])]["canonical_id"]
    assert set(links[links["canonical_id"].isin(canonical)]["system_id"]) == {web["id"], at_pos["id"]}


def test_a_likely_duplicate_is_reported_not_merged(first_sync):
    twin = first_sync.world.shoppers[0]
    suspects = first_sync.query(f"SELECT * FROM plan.customers_{first_sync.pos}_duplicate_suspects")
    pos_ids = {c["id"] for c in first_sync.probe.customers() if (c["email"] or "").strip().lower() == twin.email}
    assert len(pos_ids) == 2
    same_email = suspects[suspects["rule"] == "same_email"]
    assert pos_ids <= set(same_email["left_id"]) | set(same_email["right_id"])
    # neither till record is created or merged in commercetools: one customer with that email there
    assert sum((c.get("email") or "").lower() == twin.email for c in first_sync.ct.store.all("customer")) == 1
    written = set(first_sync.ledger(flows(first_sync)[1])["record_ref"])
    assert not (written & pos_ids)


@pytest.fixture(scope="module")
def changes(first_sync):
    """After the first sync: edits at the till and in commercetools, a new variant online, one delta_sync."""
    tilly_pos = pos_customer(first_sync, loyalty_id="LOY-7777")
    web = ct_customer(first_sync, "web.only@example.com")
    # at the till: a new loyalty id (POS owns it) and a new first name (commercetools owns it)
    first_sync.probe.edit_customer(tilly_pos["id"], loyalty_id="LOY-8888", first_name="Tilda")
    # in commercetools: a new last name for the web customer (commercetools owns it), a new size of the beanie
    current = first_sync.ct.store.get("customer", web["id"])
    ct_post(first_sync, f"customers/{web['id']}", {"version": current["version"], "actions": [
        {"action": "setLastName", "lastName": "Webber"}]})
    beanie = next(p for p in first_sync.ct.store.all("product") if p.get("key") == "beanie-green")
    ct_post(first_sync, f"products/{beanie['id']}", {"version": beanie["version"], "actions": [
        {"action": "addVariant", "staged": False, **variant("BEANIE-GREEN-L", "L", "4000000000013", [price(2099)])},
        {"action": "publish"}]})
    first_sync.sync("delta_sync")
    return {"tilly_pos": tilly_pos, "web": web}


def test_fields_flow_only_in_their_owners_direction(first_sync, changes):
    tilly = ct_customer(first_sync, "tilly.store@example.com")
    assert tilly["custom"]["fields"]["loyaltyId"] == "LOY-8888"
    assert tilly["firstName"] == "Tilly"  # the till's name change is not the POS's to make online ...
    assert pos_customer(first_sync, id=changes["tilly_pos"]["id"])["first_name"] == "Tilly"  # ... the owner's value wins
    assert pos_customer(first_sync, email="web.only@example.com")["last_name"] == "Webber"


def test_a_new_variant_joins_its_family_at_the_pos(first_sync, changes):
    large, small = pos_product(first_sync, "BEANIE-GREEN-L"), pos_product(first_sync, "BEANIE-GREEN-S")
    assert large is not None and large["family"] == small["family"]
    assert large["variant_name"] == "Beanie / GREEN / L" and large["price"] == 20.99
    assert large["barcodes"] == ["4000000000013"]


def test_a_run_after_the_flows_settled_applies_nothing(first_sync, changes):
    settled = flows(first_sync)
    before = {f: len(first_sync.ledger(f)) for f in settled}
    revisions = {p["id"]: p["revision"] for p in first_sync.probe.products()}
    first_sync.sync("delta_sync")
    assert {f: len(first_sync.ledger(f)) for f in settled} == before
    assert {p["id"]: p["revision"] for p in first_sync.probe.products()} == revisions  # no product touched
    first_sync.sync("full_sync")  # everything re-read: still nothing to write
    assert {f: len(first_sync.ledger(f)) for f in settled} == before
    catalog = first_sync.ledger(settled[0])
    assert {"BEANIE-GREEN-S", "BEANIE-GREEN-M", "BEANIE-GREEN-L"} <= set(catalog[catalog["status"] == "applied"]["record_ref"])
    statuses = set().union(*(set(first_sync.ledger(f)["status"]) for f in settled))
    assert statuses == {"applied"}
    open_rows = first_sync.open_rejections()
    assert set(open_rows["record_ref"]) == {"GLOVE-GREEN-M"}, open_rows[["flow", "record_ref", "reason"]].to_string()
