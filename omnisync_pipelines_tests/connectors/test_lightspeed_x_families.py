"""Variant families and supply prices, connector against the X-Series emulator (in process).

Contract (docs "Variants"): a family's parent is a real, sellable product with its own SKU
(`variant_parent_id` null, `has_variants` true); every child has `variant_parent_id` = the parent's
id and `has_variants` false; a standard product has neither. Reading maps every row, parent
included, to one catalog item by SKU. A new variant of an existing family is added with
`POST /api/2.1/products/{parent id}/variants`; the emulator refuses a child's id there. A supply
price written with a product reads back in minor units.
"""

from dataclasses import replace
from decimal import Decimal

import pytest

from omnisync_pipelines.canonical.models import CatalogItem, Price
from omnisync_pipelines.connectors.lightspeed_x import drafts
from omnisync_pipelines.connectors.lightspeed_x.catalog_target import LightspeedXCatalog
from omnisync_pipelines.connectors.lightspeed_x.client import build_client
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
from omnisync_pipelines.connectors.lightspeed_x.settings import LightspeedXSettings
from omnisync_pipelines.rest.errors import Conflict, Unprocessable
from omnisync_pipelines.sandbox.emulators.lightspeed_x import LightspeedXEmulator
from omnisync_pipelines.sandbox.transport import EmulatorTransport

pytestmark = pytest.mark.anyio
BASE = "https://omnisync-sandbox.retail.lightspeed.app"
VAT = Decimal("0.19")


@pytest.fixture
async def shop():
    emu = LightspeedXEmulator(seed=31)
    berlin = emu.seed_outlet("Berlin", currency="EUR")
    emu.seed_register(berlin["id"], "R1")
    tax = emu.seed_tax("VAT", 0.19)
    calls: list[dict] = []
    settings = LightspeedXSettings(domain_prefix="omnisync-sandbox", base_url=BASE,
                                   personal_token=emu.credentials(BASE)["personal_token"], page_size=2)
    client = build_client(settings, transport=EmulatorTransport(emu.app), call_log=calls.append)
    connector = LightspeedXConnector(client, {berlin["id"]: "berlin"})
    yield {"emu": emu, "client": client, "connector": connector, "berlin": berlin, "tax": tax, "calls": calls}
    await connector.aclose()


def tee(size: str, gross: int = 2000, supply: int | None = None) -> tuple[CatalogItem, Price]:
    item = CatalogItem("commercetools", f"TEE-{size}", "tee", "Tee", "x", f'{{"size": "{size}"}}', supply_price=supply)
    return item, Price("commercetools", item.sku, "EUR", gross, "x")


async def create_tee_family(shop, sizes=("S", "M", "L")) -> dict[str, str]:
    details = [drafts.variant_details(*tee(size, supply=850), tax_rate=VAT, attribute_ids={"size": "size"})
               for size in sizes]
    common = {"name": "Tee", "handle": "tee", "tax_id": shop["tax"]["id"]}
    ids = await shop["client"].create_product(common, details)
    return {f"TEE-{size}": product_id for size, product_id in zip(sizes, ids, strict=True)}


def rows_by_sku(shop) -> dict[str, dict]:
    return {p["sku"]: p for p in shop["emu"].store.rows["products"].values()}


def desired(sku: str, size: str) -> dict:
    return {"sku": sku, "product_key": "tee", "name": "Tee", "barcode": None, "attributes": {"size": size},
            "tax_category": None, "active": True}


# ---------------------------------------------------------------- tests


async def test_a_new_family_has_a_sellable_parent_and_children_pointing_at_it(shop):
    ids = await create_tee_family(shop)
    rows = rows_by_sku(shop)
    parent = rows["TEE-S"]
    assert (parent["id"], parent["variant_parent_id"], parent["has_variants"]) == (ids["TEE-S"], None, True)
    for sku in ("TEE-M", "TEE-L"):
        assert (rows[sku]["variant_parent_id"], rows[sku]["has_variants"]) == (ids["TEE-S"], False)
    assert {r["name"] for r in rows.values()} == {"Tee"} and parent["variant_name"] == "Tee / S"
    (mug,) = await shop["client"].create_product({"name": "Mug"}, [{"sku": "MUG", "price_excluding_tax": 10}])
    assert (rows_by_sku(shop)["MUG"]["variant_parent_id"], rows_by_sku(shop)["MUG"]["has_variants"]) == (None, False)
    assert len(shop["emu"].store.rows["products"]) == 4  # no family row without a product of its own


async def test_a_family_with_a_taken_sku_is_created_not_at_all(shop):
    await create_tee_family(shop, sizes=("M",))
    details = [drafts.variant_details(*tee(size), tax_rate=VAT, attribute_ids={"size": "size"}) for size in ("S", "M")]
    with pytest.raises(Conflict):
        await shop["client"].create_product({"name": "Tee", "handle": "tee"}, details)
    assert set(rows_by_sku(shop)) == {"TEE-M"}


async def test_every_member_reads_as_one_catalog_item_by_sku_with_its_supply_price(shop):
    ids = await create_tee_family(shop)
    result = await shop["connector"].read("catalog")
    assert result.rejected == []
    items = {i.sku: i for i in result.tables["catalog"]}
    assert sorted(items) == ["TEE-L", "TEE-M", "TEE-S"]  # the parent is one of the sellable variants
    assert {sku: (i.system_id, i.product_key, i.attributes, i.supply_price) for sku, i in items.items()} == {
        sku: (ids[sku], "tee", f'{{"size": "{sku[-1]}"}}', 850) for sku in ids}


async def test_a_new_size_is_added_through_the_family_parent(shop):
    ids = await create_tee_family(shop, sizes=("S", "M"))
    await shop["client"].update_product(ids["TEE-S"], details={"price_excluding_tax": 17.5})  # now listed after M
    catalog = LightspeedXCatalog(shop["client"], {"berlin": shop["berlin"]["id"]})
    outcome = await catalog.upsert_item(desired("TEE-XL", "XL"))
    posts = [c["path"] for c in shop["calls"] if c["method"] == "POST"]
    assert posts[-1] == f"/api/2.1/products/{ids['TEE-S']}/variants"
    xl = rows_by_sku(shop)["TEE-XL"]
    assert outcome == {"status": "created", "system_id": xl["id"]}
    assert (xl["variant_parent_id"], xl["has_variants"], xl["name"], xl["handle"]) == (ids["TEE-S"], False, "Tee", "tee")
    assert rows_by_sku(shop)["TEE-S"]["has_variants"] is True
    again = await catalog.upsert_item(desired("TEE-XL", "XL"))  # a second push finds it: an update, no new row
    assert again["status"] == "updated" and len(shop["emu"].store.rows["products"]) == 3


async def test_a_standard_product_becomes_the_parent_when_a_variant_joins_it(shop):
    (solo,) = await shop["client"].create_product(
        {"name": "Tee", "handle": "tee", "tax_id": shop["tax"]["id"]},
        [drafts.variant_details(*tee("S"), tax_rate=VAT, attribute_ids={"size": "size"})])
    assert rows_by_sku(shop)["TEE-S"]["has_variants"] is False
    catalog = LightspeedXCatalog(shop["client"], {"berlin": shop["berlin"]["id"]})
    await catalog.upsert_item(desired("TEE-M", "M"))
    rows = rows_by_sku(shop)
    assert (rows["TEE-S"]["variant_parent_id"], rows["TEE-S"]["has_variants"]) == (None, True)
    assert rows["TEE-M"]["variant_parent_id"] == solo


async def test_the_emulator_refuses_a_variant_added_through_a_child(shop):
    ids = await create_tee_family(shop, sizes=("S", "M"))
    with pytest.raises(Unprocessable) as caught:
        await shop["client"].call("POST", f"/api/2.1/products/{ids['TEE-M']}/variants",
                                  json={"details": {"sku": "TEE-L", "variant_definitions": [
                                      {"attribute_id": "size", "value": "L"}]}})
    assert "family's parent" in str(caught.value.body)
    assert "TEE-L" not in rows_by_sku(shop)


async def test_a_supply_price_written_with_a_product_reads_back_in_minor_units(shop):
    item, price = tee("S", supply=1234)
    details = drafts.variant_details(item, price, tax_rate=VAT, attribute_ids={"size": "size"})
    (product_id,) = await shop["client"].create_product({"name": "Tee", "tax_id": shop["tax"]["id"]}, [details])
    assert shop["emu"].store.rows["products"][product_id]["supply_price"] == 12.34
    await shop["client"].update_product(product_id, details=drafts.variant_details(
        replace(item, supply_price=990), attribute_ids={"size": "size"}, currency="EUR"))
    (read,) = (await shop["connector"].read("catalog")).tables["catalog"]
    assert (read.sku, read.supply_price) == ("TEE-S", 990)
