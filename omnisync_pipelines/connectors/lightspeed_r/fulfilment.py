"""R-Series as the store that fulfils online orders (the engine's `StatusPos`): live stock checks, the
open sale whose layaway lines set the goods aside, its status, and voiding it.

The sale: each line is first a layaway `POST SaleLine` (reservations tutorial) for the shopper's R
customer (required for a layaway; found by email, else added) with `requireFullReservation: true`,
so a count that dropped since the live check fails the request instead of reserving part (the lines
already reserved are then deleted, which restores their units). `POST Sale` then opens the sale
(`completed: false`) at the shop's first register with those `saleLineID`s attached (`saleID` cannot
be set on a SaleLine create, saleline.md), `referenceNumber` = the commercetools order id and
`referenceNumberSource` = "omnisync" (how `find_sale` knows it), and for ship-from-store a `ShipTo`.
The reserved units stay in `qoh` and show in `ItemShop.onLayaway`; available = qoh - onLayaway.

Status: open without a ShipTo -> waiting_pickup, with one -> waiting_dispatch; completed (payment
applied, units leave qoh) -> picked_up / dispatched; voided -> cancelled (`PUT Sale {"voided": true}`,
Sale fields: "All inventory is restocked").
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from decimal import Decimal

from omnisync_pipelines.canonical.models import (
    Customer,
    Fulfilment,
    Order,
    OrderLine,
    StockLevel,
    normalise_email,
)
from omnisync_pipelines.canonical.money import currency_digits
from omnisync_pipelines.connectors import pos
from omnisync_pipelines.connectors.lightspeed_r import mapping
from omnisync_pipelines.connectors.lightspeed_r.connector import LightspeedRConnector
from omnisync_pipelines.connectors.lightspeed_r.customer_target import LightspeedRCustomers
from omnisync_pipelines.connectors.lightspeed_r.settings import SYSTEM
from omnisync_pipelines.connectors.lightspeed_r.shapes import flag, integer, many, text
from omnisync_pipelines.rest.errors import ApiError, ApiTransportError

OWN_SOURCE = "omnisync"  # referenceNumberSource of the sales omnisync opens


def reservation_note(order_id: str) -> str:
    """The private Note on each layaway line reserved for a commercetools order."""
    return f"omnisync: commercetools order {order_id}"
LOOKUP_CHUNK = 100


def canonical_status(sale: dict) -> tuple[str, str]:
    """(canonical fulfilment status, the till's own: open / completed / voided)."""
    shipped = bool(integer(sale.get("shipToID")))
    if flag(sale.get("voided")):
        return pos.CANCELLED, "voided"
    if flag(sale.get("completed")):
        return (pos.DISPATCHED if shipped else pos.PICKED_UP), "completed"
    return (pos.WAITING_DISPATCH if shipped else pos.WAITING_PICKUP), "open"


def with_canonical_status(sale: dict) -> dict:
    status, own = canonical_status(sale)
    return {**sale, "id": text(sale.get("saleID")), "status": status, "pos_status": own}


def major(amount: int, currency: str) -> str:
    return str(Decimal(amount).scaleb(-currency_digits(currency)))


def level_of(item_shop: dict, sku: str, location_key: str) -> StockLevel:
    """The count as the stock snapshot maps it (units on layaway are set aside: not on hand for sale)."""
    level = mapping.map_item_shop(item_shop, sku_of={text(item_shop.get("itemID")): sku},
                                  location_map={text(item_shop.get("shopID")): location_key})
    if not isinstance(level, StockLevel):
        raise ValueError(f"{SYSTEM} item shop {item_shop.get('itemShopID')}: {level.reason}")
    return level


class LightspeedRFulfilment:
    system = SYSTEM

    def __init__(self, connector: LightspeedRConnector):
        self.client = connector.client
        self.shop_of = {key: str(shop) for shop, key in connector.location_map.items()}  # location key -> shopID
        self._till: dict | None = None
        self._lock = asyncio.Lock()

    async def _till_context(self) -> dict:
        """The first register of each shop and an employee to ring the sales up, read once."""
        async with self._lock:
            if self._till is None:
                registers = sorted(await self.client.rows("Register"), key=lambda r: integer(r.get("registerID")))
                first: dict[str, str] = {}
                for register in registers:
                    first.setdefault(text(register.get("shopID")), text(register.get("registerID")))
                employees = [e for e in await self.client.rows("Employee") if not flag(e.get("archived"))]
                self._till = {"register_of": first, "employee": text(employees[0].get("employeeID")) if employees else "0"}
        return self._till

    async def _items(self, skus: list[str], relations: list[str] | None = None) -> dict[str, dict]:
        found: dict[str, dict] = {}
        wanted = sorted(set(skus))
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start:start + LOOKUP_CHUNK]
            for item in await self.client.rows("Item", params={"customSku": "IN," + json.dumps(chunk)}, relations=relations):
                found.setdefault(text(item.get("customSku")).strip(), item)
        return found

    async def stock_levels(self, skus: list[str], location_key: str) -> dict[str, StockLevel | None]:
        """Live counts at the store, read now: `qoh`, reserved `onLayaway`, available the difference."""
        shop = self.shop_of[location_key]
        items = await self._items(skus, ["ItemShops"])
        levels: dict[str, StockLevel | None] = {}
        for sku in skus:
            row = next((s for s in many((items.get(sku) or {}).get("ItemShops"), "ItemShop")
                        if text(s.get("shopID")) == shop), None)
            levels[sku] = level_of(row, sku, location_key) if row else None
        return levels

    async def _customer_id(self, order: Order, shopper: Customer | None) -> str:
        """The shopper's R customer: a layaway needs one (saleline.md: customerID "Required if isLayaway").
        Found by email; a shopper the till does not know is added as the customer flow adds one (their
        commercetools fields and id, through the customer target), so the next customer run finds both
        sides agreeing; a guest is added with the email (or, without one, named after the order)."""
        if shopper is not None:
            target = LightspeedRCustomers(self.client)
            # no opt-in in commercetools: the till records "no email", which R-Series's default would read as consent
            shopper = replace(shopper, consent_marketing=shopper.consent_marketing is True)
            return (await target.find(shopper) or await target.create(shopper)).customer_id
        email = normalise_email(order.customer_email)
        if email:
            rows = await self.client.rows("Customer", params={"Contact.email": f"~,{email}"}, relations=["Contact"])
            live = [r for r in rows if not flag(r.get("archived"))]
            if live:
                return text(live[0].get("customerID"))
        body: dict = {"firstName": "Online order", "lastName": order.order_number}
        if email:
            body["Contact"] = {"Emails": {"ContactEmail": [{"address": email, "useType": "Primary"}]}}
        return text((await self.client.create("Customer", body)).get("customerID"))

    async def create_sale(self, order: Order, lines: list[OrderLine], location_key: str,
                          shopper: Customer | None = None) -> dict:
        shop = self.shop_of[location_key]
        till = await self._till_context()
        if shop not in till["register_of"]:
            raise ValueError(f"{SYSTEM} shop {shop} ({location_key}) has no register to open the sale at")
        items = await self._items([line.sku for line in lines])
        missing = sorted({line.sku for line in lines} - set(items))
        if missing:
            raise ValueError(f"{SYSTEM} has no item for SKU {', '.join(missing)}")
        customer = await self._customer_id(order, shopper)
        reserved = await self._reserve(order, lines, items, shop, customer, till["employee"])
        body = {"shopID": shop, "registerID": till["register_of"][shop], "employeeID": till["employee"],
                "customerID": customer, "completed": False, "referenceNumber": order.order_id,
                "referenceNumberSource": OWN_SOURCE, "SaleLines": {"SaleLine": [{"saleLineID": i} for i in reserved]}}
        if order.fulfilment == Fulfilment.SHIP_FROM_STORE.value:
            body["ShipTo"] = {"customerID": customer, "shipNote": f"commercetools order {order.order_number}"}
        try:
            sale = await self.client.create("Sale", body)
        except ApiError as exc:
            # a lost answer may still have opened the sale: look before releasing anything
            sale = await self.find_sale(order.order_id) if isinstance(exc, ApiTransportError) else None
            if sale is None:
                await self._release(reserved)
                raise
        return await self.sale(text(sale.get("saleID")))

    async def _reserve(self, order: Order, lines: list[OrderLine], items: dict[str, dict], shop: str, customer: str,
                       employee: str) -> list[str]:
        """One layaway SaleLine per order line (reservations tutorial; `saleID` "cannot be set on create",
        saleline.md), all or none: a line the count cannot cover releases the ones before it.

        Each line carries a private Note naming the order. An attempt that died after reserving and
        before opening the sale left its lines unattached (`saleID` 0), holding the units: this attempt
        takes them over instead of setting the goods aside twice, and releases those it cannot use."""
        left = await self._unattached(order)
        reserved: list[str] = []
        try:
            for line in lines:
                item_id = text(items[line.sku].get("itemID"))
                earlier = next((row for row in left if text(row.get("itemID")) == item_id
                                and integer(row.get("unitQuantity")) == line.quantity), None)
                if earlier is not None:
                    left.remove(earlier)
                    reserved.append(text(earlier.get("saleLineID")))
                    continue
                made = await self.client.create("SaleLine", {
                    "isLayaway": True, "requireFullReservation": True, "customerID": customer, "shopID": shop,
                    "employeeID": employee, "itemID": item_id,
                    "unitQuantity": line.quantity, "unitPrice": major(line.unit_price, order.currency),
                    "discountAmount": major(line.discount, order.currency), "tax": True,
                    "Note": {"note": reservation_note(order.order_id), "isPublic": False}})
                reserved.append(text(made.get("saleLineID")))
        except ApiError:
            await self._release(reserved)
            raise
        await self._release([text(row.get("saleLineID")) for row in left])
        return reserved

    async def _unattached(self, order: Order) -> list[dict]:
        """Layaway lines an interrupted attempt reserved for `order` and never attached to a sale."""
        rows = await self.client.rows("SaleLine", params={"saleID": "0"}, relations=["Note"])
        mark = reservation_note(order.order_id)
        return [row for row in rows if ((row.get("Note") or {}).get("note") or "") == mark]

    async def _release(self, sale_line_ids: list[str]) -> None:
        """Cancel reservations ("Cancelling a Reservation": DELETE restores the units)."""
        for sale_line_id in sale_line_ids:
            await self.client.archive("SaleLine", sale_line_id)

    async def find_sale(self, order_id: str) -> dict | None:
        """The sale opened for an order by an earlier, interrupted attempt (`referenceNumber` = order id)."""
        rows = await self.client.rows("Sale", params={"referenceNumber": order_id, "referenceNumberSource": OWN_SOURCE})
        rows.sort(key=lambda s: (flag(s.get("voided")), integer(s.get("saleID"))))
        return with_canonical_status(rows[0]) if rows else None

    async def sale(self, sale_id: str) -> dict:
        found = await self.client.one("Sale", sale_id, relations=["SaleLines"])
        if found is None:
            raise LookupError(f"{SYSTEM} has no sale {sale_id}")
        return with_canonical_status(found)

    async def void_sale(self, sale: dict) -> dict:
        return with_canonical_status(await self.client.update("Sale", sale["id"], {"voided": True},
                                                              relations=["SaleLines"]))
