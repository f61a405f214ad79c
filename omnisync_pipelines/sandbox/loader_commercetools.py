"""The commercetools side of the sandbox world: channels, stores, catalog, customers, online orders."""

from __future__ import annotations

import httpx

from omnisync_pipelines.sandbox.world import OnlineOrder, World

ONLINE_ORDER_TYPE = "sandbox-online-order"


class CommercetoolsLoader:
    def __init__(self, ct: httpx.AsyncClient, credentials: dict, channel_ids: dict[str, str] | None = None):
        self.ct, self.credentials = ct, credentials
        self.project = credentials["project_key"]
        self.channel_ids = dict(channel_ids or {})
        self._token: str | None = None

    async def _headers(self) -> dict:
        if self._token is None:
            response = await self.ct.post(
                "/oauth/token", data={"grant_type": "client_credentials"},
                auth=(self.credentials["client_id"], self.credentials["client_secret"]),
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    async def _post(self, path: str, body: dict) -> dict:
        response = await self.ct.post(f"/{self.project}/{path}", json=body, headers=await self._headers())
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox load failed: POST {path} -> {response.status_code} {response.text[:300]}")
        return response.json()

    async def load(self, world: World) -> dict[str, str]:
        for store in world.stores:
            channel = await self._post("channels", {
                "key": store.channel_key, "roles": ["InventorySupply", "ProductDistribution"],
                "name": {"en": store.name}, "address": {"country": store.country},
            })
            self.channel_ids[store.key] = channel["id"]
            await self._post("stores", {
                "key": store.key, "name": {"en": store.name},
                "supplyChannels": [{"typeId": "channel", "key": store.channel_key}],
                "distributionChannels": [{"typeId": "channel", "key": store.channel_key}],
            })
        await self._post("types", {
            "key": ONLINE_ORDER_TYPE, "name": {"en": "Sandbox online order"}, "resourceTypeIds": ["order"],
            "fieldDefinitions": [
                {"name": name, "type": {"name": "String"}, "required": False, "label": {"en": name}, "inputHint": "SingleLine"}
                for name in ("fulfilment", "fulfilmentStore")
            ],
        })
        product_type = await self._post("product-types", {
            "key": "apparel", "name": "Apparel", "description": "Sandbox apparel",
            "attributes": [
                {"name": name, "type": {"name": "text"}, "isRequired": False, "label": {"en": name},
                 "attributeConstraint": "None", "isSearchable": True}
                for name in ("size", "colour", "gtin")
            ],
        })
        for product_key in dict.fromkeys(v.product_key for v in world.variants):
            variants = [self._variant(v, world) for v in world.variants if v.product_key == product_key]
            name = next(v.product_name for v in world.variants if v.product_key == product_key)
            product = await self._post("products", {
                "key": product_key, "productType": {"typeId": "product-type", "id": product_type["id"]},
                "name": {"en": name}, "slug": {"en": product_key}, "masterVariant": variants[0], "variants": variants[1:],
            })
            await self._post(f"products/{product['id']}", {"version": product["version"], "actions": [{"action": "publish"}]})
        for shopper in world.shoppers:
            if shopper.online:
                await self._post("customers", {
                    "email": shopper.email, "firstName": shopper.first_name, "lastName": shopper.last_name,
                    "password": "sandbox-Pa55word", "key": f"web-{shopper.key}",
                })
        return self.channel_ids

    def _variant(self, variant, world: World) -> dict:
        prices = [{"value": {"currencyCode": currency, "centAmount": amount}, "country": country}
                  for currency, amount, country in (("EUR", variant.prices["EUR"], "DE"), ("GBP", variant.prices["GBP"], "GB"))]
        for store_key, amount in variant.store_prices.items():
            store = world.store(store_key) if any(s.key == store_key for s in world.stores) else None
            if store is not None:
                prices.append({"value": {"currencyCode": store.currency, "centAmount": amount},
                               "country": store.country, "channel": {"typeId": "channel", "id": self.channel_ids[store_key]}})
        return {
            "sku": variant.sku, "key": variant.sku.lower(), "prices": prices,
            "attributes": [{"name": "size", "value": variant.size}, {"name": "colour", "value": variant.colour},
                           {"name": "gtin", "value": variant.barcode}],
        }

    async def online_order(self, order: OnlineOrder, world: World) -> dict:
        store = world.store(order.store)
        shopper = next(s for s in world.shoppers if s.key == order.shopper)
        lines = [{
            "name": {"en": world.variant(line.sku).product_name}, "variant": {"sku": line.sku}, "quantity": line.quantity,
            "price": {"value": {"currencyCode": store.currency, "centAmount": line.unit_gross - line.discount}},
            "supplyChannel": {"typeId": "channel", "id": self.channel_ids[store.key]},
        } for line in order.lines]
        total = sum((line.unit_gross - line.discount) * line.quantity for line in order.lines)
        return await self._post("orders/import", {
            "orderNumber": order.order_number, "customerEmail": shopper.email, "store": {"typeId": "store", "key": store.key},
            "lineItems": lines, "totalPrice": {"currencyCode": store.currency, "centAmount": total},
            "orderState": "Open", "shipmentState": "Pending", "paymentState": "Paid", "inventoryMode": "None",
            "completedAt": order.at.isoformat().replace("+00:00", "Z"),
            "custom": {"type": {"typeId": "type", "key": ONLINE_ORDER_TYPE},
                       "fields": {"fulfilment": order.fulfilment, "fulfilmentStore": store.key}},
        })

    async def clerk_adjusts_inventory(self, sku: str, store_key: str, units: int) -> int:
        """A back-office edit in commercetools only (the till never hears of it); returns the new count."""
        headers = await self._headers()
        where = f'sku="{sku}" and supplyChannel(id="{self.channel_ids[store_key]}")'
        found = await self.ct.get(f"/{self.project}/inventory", params={"where": where}, headers=headers)
        found.raise_for_status()
        [entry] = found.json()["results"]
        action = {"action": "addQuantity" if units > 0 else "removeQuantity", "quantity": abs(units)}
        updated = await self._post(f"inventory/{entry['id']}", {"version": entry["version"], "actions": [action]})
        return updated["quantityOnStock"]
