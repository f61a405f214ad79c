"""Creating test data through the connector's client (channels, stores, product types, products).

Every key and SKU carries the test's `uid`, so tests share one server per session without meeting.
"""

from __future__ import annotations

from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient


async def channel(ct: CommercetoolsClient, key: str, roles=("InventorySupply",)) -> dict:
    return await ct.create("channels", {"key": key, "roles": list(roles), "name": {"en": key}})


async def store(ct: CommercetoolsClient, key: str, supply: dict, distribution: dict) -> dict:
    return await ct.create("stores", {
        "key": key,
        "name": {"en": key},
        "supplyChannels": [{"typeId": "channel", "key": supply["key"]}],
        "distributionChannels": [{"typeId": "channel", "key": distribution["key"]}],
    })


async def product_type(ct: CommercetoolsClient, key: str) -> dict:
    return await ct.create("product-types", {
        "key": key,
        "name": key,
        "description": key,
        "attributes": [{
            "name": "colour", "label": {"en": "Colour"}, "isRequired": False, "type": {"name": "text"},
            "attributeConstraint": "None", "isSearchable": False, "inputHint": "SingleLine",
        }],
    })


def price(cent: int, currency: str = "EUR", **scope) -> dict:
    draft: dict = {"value": {"currencyCode": currency, "centAmount": cent}}
    if scope.get("country"):
        draft["country"] = scope["country"]
    if scope.get("channel"):
        draft["channel"] = {"typeId": "channel", "id": scope["channel"]}
    if scope.get("customer_group"):
        draft["customerGroup"] = {"typeId": "customer-group", "id": scope["customer_group"]}
    return draft


def variant(sku: str, prices: list[dict] | None = None, colour: str = "red") -> dict:
    return {
        "sku": sku,
        "key": sku,
        "prices": prices or [price(1999)],
        "attributes": [{"name": "colour", "value": colour}],
        "images": [{"url": f"https://img.test/{sku}.jpg", "dimensions": {"w": 10, "h": 10}}],
    }


async def product(ct: CommercetoolsClient, key: str, type_id: str, variants: list[dict], *, publish=True) -> dict:
    return await ct.create("products", {
        "key": key,
        "productType": {"typeId": "product-type", "id": type_id},
        "name": {"en": f"Product {key}"},
        "slug": {"en": key},
        "masterVariant": variants[0],
        "variants": variants[1:],
        "publish": publish,
    })
