"""X-Series as the store that fulfils online orders: live stock checks, the register sale that sets
the goods aside (AWAITING_PICKUP / AWAITING_DISPATCH), its status, and recovery of a sale whose
answer was lost. The engine's `FulfilmentPos` protocol (engine/fulfilment.py).

The shopper paid online, so the register sale carries that prepayment (the whole sale total) with
the retailer's payment type for it: `online_payment_type` when configured (a name or
`type:<type_id>`), else the payment type the tender mapping reads as `card` (online orders are
card payments through the web shop). Without it the till would show the full amount owing and
refuse to close the sale at pickup.
"""

from __future__ import annotations

from omnisync_pipelines.canonical.models import Fulfilment, Order, OrderLine, StockLevel
from omnisync_pipelines.connectors import pos
from omnisync_pipelines.connectors.lightspeed_x import mapping
from omnisync_pipelines.connectors.lightspeed_x.connector import LightspeedXConnector
from omnisync_pipelines.connectors.lightspeed_x.drafts import register_sale_payload
from omnisync_pipelines.connectors.lightspeed_x.mapping import MappingError
from omnisync_pipelines.connectors.lightspeed_x.sales_mapping import tender
from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.rest.errors import ApiTransportError

WAITING_STATUS = {Fulfilment.CLICK_AND_COLLECT.value: "AWAITING_PICKUP", Fulfilment.SHIP_FROM_STORE.value: "AWAITING_DISPATCH"}
# register sale status -> the contract's canonical fulfilment status
CANONICAL_STATUS = {
    "AWAITING_PICKUP": pos.WAITING_PICKUP, "AWAITING_DISPATCH": pos.WAITING_DISPATCH,
    "PICKED_UP_CLOSED": pos.PICKED_UP, "DISPATCHED_CLOSED": pos.DISPATCHED, "VOIDED": pos.CANCELLED,
}


def with_canonical_status(sale: dict) -> dict:
    """The sale as the engine reads it: `status` canonical (unknown ones as the till says them), `pos_status` as is."""
    return {**sale, "status": CANONICAL_STATUS.get(sale.get("status"), sale.get("status")), "pos_status": sale.get("status")}


def prepayment_type(payment_types: list[dict], configured: str | None, tender_map: dict[str, str] | None) -> dict:
    """The payment type that records an online prepayment at the till (see the module docstring)."""
    live = [t for t in payment_types if not t.get("deleted_at")]
    if configured:
        wanted = configured.strip().lower()
        for payment_type in live:
            if wanted in ((payment_type.get("name") or "").strip().lower(), f"type:{payment_type.get('type_id')}"):
                return payment_type
        raise MappingError("online_payment_type", f"X-Series has no payment type {configured!r}")
    for payment_type in live:
        try:
            if tender({"name": payment_type.get("name"), "payment_type_id": payment_type.get("type_id")}, tender_map) == "card":
                return payment_type
        except MappingError:
            continue
    raise MappingError("online_payment_type", "no X-Series payment type reads as card to record online prepayments: "
                                              "name one in systems.lightspeed_x.online_payment_type")


class LightspeedXFulfilment:
    system = SYSTEM

    def __init__(self, connector: LightspeedXConnector):
        self.connector = connector
        self.client = connector.client
        self.outlet_of = {loc: outlet for outlet, loc in connector.location_map.items()}
        self._context: dict | None = None

    async def _lookups(self) -> dict:
        if self._context is None:
            sku_of = await self.connector.sku_of()
            registers = [r for r in (await self.client.registers()).rows if not r.get("deleted_at")]
            users = [u for u in (await self.client.users()).rows if not u.get("deleted_at")]
            taxes = {t["id"]: t for t in (await self.client.taxes()).rows}
            outlets = {o["id"]: o for o in await self.connector.outlets()}
            self._context = {
                "product_of": {sku: pid for pid, sku in sku_of.items()},
                "register_of": {r["outlet_id"]: r["id"] for r in reversed(registers)},
                "user_id": users[0]["id"] if users else None,
                "taxes": taxes,
                "outlets": outlets,
                "prepaid_with": prepayment_type((await self.client.payment_types()).rows,
                                                self.connector.online_payment_type, self.connector.tender_map)["id"],
            }
        return self._context

    async def stock_levels(self, skus: list[str], location_key: str) -> dict[str, StockLevel | None]:
        """Live counts at the store, read now (not from a snapshot): the final check before assigning."""
        lookups = await self._lookups()
        outlet = self.outlet_of[location_key]
        sku_of = {pid: sku for sku, pid in lookups["product_of"].items()}
        found: dict[str, StockLevel | None] = {}
        for sku in skus:
            product_id = lookups["product_of"].get(sku)
            rows = await self.client.product_inventory(product_id) if product_id else []
            row = next((r for r in rows if r.get("outlet_id") == outlet), None)
            level = mapping.map_inventory(row, sku_of=sku_of, location_map=self.connector.location_map) if row else None
            found[sku] = level if isinstance(level, StockLevel) else None
        return found

    async def create_sale(self, order: Order, lines: list[OrderLine], location_key: str, shopper=None) -> dict:
        lookups = await self._lookups()
        outlet_id = self.outlet_of[location_key]
        tax = lookups["taxes"].get((lookups["outlets"].get(outlet_id) or {}).get("default_tax_id")) or next(
            iter(lookups["taxes"].values()), {"id": None, "rates": []})
        payload = register_sale_payload(
            order, lines, [], register_id=lookups["register_of"][outlet_id], user_id=lookups["user_id"],
            product_id_of=lookups["product_of"], payment_type_id_of={}, tax_id=tax["id"],
            tax_rate=mapping.tax_rate(tax), status=WAITING_STATUS[order.fulfilment],
            prepaid_with=lookups["prepaid_with"],
        )
        try:
            return with_canonical_status(await self.client.register_sale(payload))
        except ApiTransportError:  # the answer was lost, not necessarily the sale: look before anyone resends
            found = await self.find_sale(order.order_id)
            if found is None:
                raise
            return found

    async def find_sale(self, order_id: str) -> dict | None:
        """The sale registered for an order by an earlier, interrupted attempt (`source_id` = order id)."""
        rows = (await self.client.sales()).rows
        found = next((s for s in rows if s.get("source") == "omnisync" and s.get("source_id") == order_id), None)
        return with_canonical_status(found) if found is not None else None

    async def sale(self, sale_id: str) -> dict:
        return with_canonical_status(await self.client.get("sales", sale_id))

    async def void_sale(self, sale: dict) -> dict:
        voided = await self.client.register_sale({"id": sale["id"], "register_id": sale["register_id"], "status": "VOIDED"})
        return with_canonical_status(voided)
