"""X-Series writes, mixed into `LightspeedXClient`: 2.1 products, absolute inventory (read, write,
verify), customers, 0.9 register sales, returns, fulfilment and webhook subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnisync_pipelines.connectors.lightspeed_x.errors import InventoryNotVerified
from omnisync_pipelines.rest.errors import Conflict

API = "/api/2.0"
WEBHOOK_TYPES = ("sale.update", "product.update", "customer.update", "inventory.update",
                 "register_closure.create", "consignment.send", "consignment.receive")


def consignment_line(fields: dict) -> dict:
    """A consignment line body as the 2.0 document types it (ConsignmentProduct): `count`, `received`
    and `cost` as decimal text, the rest as given."""
    return {k: (str(v) if k in ("count", "received", "cost") and v is not None else v) for k, v in fields.items()}


@dataclass(frozen=True)
class InventoryWrite:
    product_id: str
    outlet_id: str
    before: int | None
    after: int
    written: bool  # False when the outlet already held the wanted count


class LightspeedXWrites:
    async def call(self, method: str, path: str, **kwargs) -> Any: ...  # provided by the client

    async def product_inventory(self, product_id: str) -> list[dict]: ...  # provided by the client

    # products -----------------------------------------------------------------------------------------
    async def create_product(self, common: dict, variants: list[dict]) -> list[str]:
        """`POST /api/2.1/products`; one variant is a standard product. Returns the new product ids."""
        if len(variants) == 1:
            details = variants[0]
        else:  # ProductCreateBody: `is_active` is the family's, beside `variants` (whose items have none)
            actives = [v["is_active"] for v in variants if "is_active" in v]
            details = {"variants": [{k: x for k, x in v.items() if k != "is_active"} for v in variants],
                       **({"is_active": any(actives)} if actives else {})}
        data = (await self.call("POST", "/api/2.1/products", json={"common": common, "details": details}))["data"]
        return data if isinstance(data, list) else [data["id"] if isinstance(data, dict) else data]

    async def update_product(self, product_id: str, common: dict | None = None, details: dict | None = None) -> Any:
        body = {"common": common or {}, "details": details or {}}
        return (await self.call("PUT", f"/api/2.1/products/{product_id}", json=body)).get("data")

    async def save_price_book_entries(self, price_book_id: str, entries: list[dict]) -> None:
        """`POST /api/2.0/price_books/{id}/products` with `{"data": [...]}` (at most 100 entries); the
        answer is a confirmation message, not the entries."""
        await self.call("POST", f"{API}/price_books/{price_book_id}/products", json={"data": entries})

    # inventory ----------------------------------------------------------------------------------------
    async def inventory_level(self, product_id: str, outlet_id: str) -> int | None:
        for row in await self.product_inventory(product_id):
            if row.get("outlet_id") == outlet_id:
                level = row.get("inventory_level", row.get("current_amount"))
                return None if level is None else int(float(level))
        return None

    async def set_inventory(self, product_id: str, outlet_id: str, count: int) -> InventoryWrite:
        """Absolute count (2.0 has no relative write): read, write `details.inventory`, re-read.

        Raises `InventoryNotVerified` when the re-read differs (a till sold meanwhile, or the write
        was not applied); reconciliation decides what to do with the difference.
        """
        before = await self.inventory_level(product_id, outlet_id)
        if before == count:
            return InventoryWrite(product_id, outlet_id, before, count, written=False)
        await self.update_product(product_id, details={"inventory": [{"outlet_id": outlet_id, "current_amount": count}]})
        after = await self.inventory_level(product_id, outlet_id)
        if after != count:
            raise InventoryNotVerified(product_id, outlet_id, count, after)
        return InventoryWrite(product_id, outlet_id, before, after, written=True)

    async def adjust_inventory(self, product_id: str, outlet_id: str, delta: int) -> InventoryWrite:
        """A relative change expressed as read-then-absolute-write, keeping the window short."""
        before = await self.inventory_level(product_id, outlet_id) or 0
        return await self.set_inventory(product_id, outlet_id, before + delta)

    # customers ----------------------------------------------------------------------------------------
    async def create_customer(self, fields: dict) -> dict:
        return (await self.call("POST", f"{API}/customers", json=fields))["data"]

    async def update_customer(self, customer_id: str, fields: dict) -> dict:
        return (await self.call("PUT", f"{API}/customers/{customer_id}", json=fields))["data"]

    # sales --------------------------------------------------------------------------------------------
    async def register_sale(self, payload: dict) -> dict:
        """0.9 `POST /api/register_sales`: create, or update when `payload` carries the sale `id`.

        Not deduplicated by the API: callers key each sale (DESIGN §6) and check the ledger first. A
        create whose answer is lost (dropped connection, timeout) is not resent: it may have been
        applied; the caller finds it by its `source_id` (or the next run does, from the ledger).
        """
        body = await self.call("POST", "/api/register_sales", json=payload, retry_transport="id" in payload)
        return body.get("register_sale") or body.get("data") or body

    async def return_sale(self, sale_id: str) -> dict:
        """`PUT /api/2.0/sales/{id}/actions/return` -> the new SAVED return sale (negative lines)."""
        return (await self.call("PUT", f"{API}/sales/{sale_id}/actions/return"))["data"]

    async def fulfill_sale(self, sale_id: str, fulfillment_type: str) -> dict:
        """`POST /sales/{id}/fulfill` -> the Fulfillment (`{id, sale_id, status: SHIPPED|PICKED_UP,
        line_items}`), not the sale: read the sale again for its new status."""
        if fulfillment_type not in ("SHIPPED", "PICKED_UP"):
            raise ValueError(f"fulfillment_type must be SHIPPED or PICKED_UP, not {fulfillment_type!r}")
        body = await self.call("POST", f"{API}/sales/{sale_id}/fulfill", json={"fulfillment_type": fulfillment_type})
        return body.get("data", body)

    # consignments (stock orders, transfers, supplier returns) -------------------------------------
    async def create_consignment(self, kind: str, outlet_id: str, *, name: str = "",
                                 source_outlet_id: str | None = None, **fields) -> dict:
        """`POST /api/2.0/consignments` (OPEN). `kind` SUPPLIER (receiving), OUTLET (transfer from
        `source_outlet_id`), RETURN (to a supplier) or STOCKTAKE."""
        body = {"type": kind, "outlet_id": outlet_id, "name": name, "status": "OPEN", **fields}
        if source_outlet_id:
            body["source_outlet_id"] = source_outlet_id
        return (await self.call("POST", f"{API}/consignments", json=body))["data"]

    async def add_consignment_product(self, consignment_id: str, product_id: str, count: int, *,
                                      received: int | None = None, cost: float | None = None) -> dict:
        body: dict = {"product_id": product_id, "count": count}
        if received is not None:
            body["received"] = received
        if cost is not None:
            body["cost"] = cost
        return (await self.call("POST", f"{API}/consignments/{consignment_id}/products",
                                json=consignment_line(body)))["data"]

    async def update_consignment_product(self, consignment_id: str, product_id: str, **fields) -> dict:
        path = f"{API}/consignments/{consignment_id}/products/{product_id}"
        # the body is a whole ConsignmentProduct, whose `product_id` is required
        return (await self.call("PUT", path, json=consignment_line({"product_id": product_id, **fields})))["data"]

    async def set_consignment_status(self, consignment_id: str, status: str) -> dict:
        """SENT / DISPATCHED / RECEIVED / CANCELLED: the API moves the stock the step stands for."""
        return (await self.call("PUT", f"{API}/consignments/{consignment_id}", json={"status": status}))["data"]

    # webhooks -----------------------------------------------------------------------------------------
    async def list_webhooks(self) -> list[dict]:
        return (await self.call("GET", f"{API}/webhooks")).get("data") or []

    async def create_webhook(self, url: str, kind: str, *, active: bool = True) -> dict:
        if kind not in WEBHOOK_TYPES:
            raise ValueError(f"unknown webhook type {kind!r}; one of {', '.join(WEBHOOK_TYPES)}")
        body = {"url": url, "type": kind, "active": active}
        return (await self.call("POST", f"{API}/webhooks", json=body))["data"]

    async def ensure_webhook(self, url: str, kind: str) -> dict:
        """Create the subscription, or return the existing one (the API answers 409 to a duplicate)."""
        try:
            return await self.create_webhook(url, kind)
        except Conflict:
            found = [w for w in await self.list_webhooks() if w.get("url") == url and w.get("type") == kind]
            if not found:
                raise
            return found[0]

    async def update_webhook(self, webhook_id: str, **fields) -> dict:
        """`PUT` takes the whole `{url, type, active}`: unchanged fields are read first."""
        current = (await self.call("GET", f"{API}/webhooks/{webhook_id}"))["data"]
        body = {k: fields.get(k, current.get(k)) for k in ("url", "type", "active")}
        return (await self.call("PUT", f"{API}/webhooks/{webhook_id}", json=body))["data"]

    async def delete_webhook(self, webhook_id: str) -> None:
        await self.call("DELETE", f"{API}/webhooks/{webhook_id}")
