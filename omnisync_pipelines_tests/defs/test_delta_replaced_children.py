"""A delta read re-reads whole parents, so children that are gone leave the snapshot with them.

Contract: after a full sync, a merchant replaces a variant's price in commercetools (`setPrices`
mints a new price id, as does `removePrice` + `addPrice`); the next delta_sync keeps one price per
scope for that SKU (the new one, under its new id), the catalog plan rejects nothing, and the new
price reaches the POS. (Order and return lines follow the same rule: engine/test_warehouse.py.)
Real Dagster runs against both emulators over sockets.
"""

import duckdb
import httpx
import pandas as pd
import pytest

from omnisync_pipelines.runs import run_job
from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader
from omnisync_pipelines.store.ops import OpsStore

CATALOG = "catalog_commercetools_to_lightspeed_x"


# fixtures ------------------------------------------------------------------------------------
def query(sandbox, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(sandbox.data_dir / "omnisync.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).df()


def ct_post(sandbox, path: str, body: dict) -> dict:
    """A merchant's edit in commercetools, over the public API."""

    async def post():
        async with httpx.AsyncClient(base_url=sandbox.server.base_url("commercetools"), timeout=30) as ct:
            return await CommercetoolsLoader(ct, sandbox.loaded.ct_credentials)._post(path, body)

    return sandbox.server.run(post())


def product_of(sandbox, sku: str) -> tuple[dict, dict]:
    for product in sandbox.ct.store.all("product"):
        data = product["masterData"]["current"]
        for variant in [data["masterVariant"], *data["variants"]]:
            if variant.get("sku") == sku:
                return product, variant
    raise AssertionError(f"no commercetools product holds {sku}")


def sync(sandbox, instance, job: str) -> None:
    outcome = run_job(job, instance=instance)
    assert outcome.success, outcome.summary()


@pytest.fixture(scope="module")
def synced(sandbox, instance):
    sync(sandbox, instance, "full_sync")
    return sandbox


# tests ---------------------------------------------------------------------------------------
def test_a_price_replaced_under_a_new_id_leaves_one_price_after_a_delta_sync(synced, instance):
    sku = synced.world.variants[0].sku
    product, variant = product_of(synced, sku)
    [old] = [p for p in variant["prices"] if p["value"]["currencyCode"] == "EUR" and not p.get("channel")]
    new_amount = old["value"]["centAmount"] + 100
    replacement = {"value": {"currencyCode": "EUR", "centAmount": new_amount}, "country": old["country"]}
    ct_post(synced, f"products/{product['id']}", {"version": product["version"], "actions": [
        {"action": "removePrice", "priceId": old["id"], "staged": False},
        {"action": "addPrice", "sku": sku, "price": replacement, "staged": False}]})
    [fresh] = [p for p in product_of(synced, sku)[1]["prices"] if p["value"]["centAmount"] == new_amount]
    assert fresh["id"] != old["id"]

    sync(synced, instance, "delta_sync")

    base = query(synced, "SELECT system_id, amount FROM commercetools.prices "
                         "WHERE sku = ? AND currency = 'EUR' AND location_key IS NULL", [sku])
    assert base.to_dict("records") == [{"system_id": fresh["id"], "amount": new_amount}]
    rejected = OpsStore.from_url(synced.env["OMNISYNC_OPS_URL"]).rejected_frame("open")
    assert rejected[rejected["reason"].str.contains(sku, regex=False)].empty, rejected.to_string()
    assert round(synced.probe.product(sku)["price"] * 100) == new_amount


def test_every_price_of_a_variant_set_anew_is_the_only_price_after_a_delta_sync(synced, instance):
    sku = synced.world.variants[1].sku
    product, variant = product_of(synced, sku)
    before = query(synced, "SELECT system_id FROM commercetools.prices WHERE sku = ?", [sku])["system_id"]
    kept = [{k: p[k] for k in ("value", "country", "channel", "customerGroup", "validFrom", "validUntil") if k in p}
            for p in variant["prices"]]
    for price in kept:  # the merchant re-keys every price with a 1-cent rise
        price["value"] = {**price["value"], "centAmount": price["value"]["centAmount"] + 1}
    ct_post(synced, f"products/{product['id']}", {"version": product["version"], "actions": [
        {"action": "setPrices", "sku": sku, "prices": kept, "staged": False}]})
    now = {p["id"]: p["value"]["centAmount"] for p in product_of(synced, sku)[1]["prices"]}

    sync(synced, instance, "delta_sync")

    after = query(synced, "SELECT system_id, amount FROM commercetools.prices WHERE sku = ?", [sku])
    assert dict(zip(after["system_id"], after["amount"], strict=True)) == now
    assert not set(before) & set(after["system_id"])
