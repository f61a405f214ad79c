"""X-Series in the sandbox: the emulator, the world loaded and played at its tills (tills.py), the
demo's configuration and environment, and the probe tests read its state through."""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import httpx

from omnisync_pipelines.sandbox import pos
from omnisync_pipelines.sandbox.emulators.lightspeed_x import tills
from omnisync_pipelines.sandbox.emulators.lightspeed_x.emulator import LightspeedXEmulator
from omnisync_pipelines.sandbox.emulators.lightspeed_x.sales import fulfill, save_register_sale
from omnisync_pipelines.sandbox.emulators.lightspeed_x.writes import save_customer, tax_rate
from omnisync_pipelines.sandbox.world import Store, World

# register sale status -> canonical fulfilment status
CANONICAL_STATUS = {
    "AWAITING_PICKUP": pos.WAITING_PICKUP, "AWAITING_DISPATCH": pos.WAITING_DISPATCH,
    "PICKED_UP_CLOSED": pos.PICKED_UP, "DISPATCHED_CLOSED": pos.DISPATCHED, "VOIDED": pos.CANCELLED,
}
FULFILMENT_TYPE = {pos.PICKED_UP: "PICKED_UP", pos.DISPATCHED: "SHIPPED"}


class XSeriesProbe(pos.PosProbe):
    def __init__(self, emulator: LightspeedXEmulator, loaded: pos.LoadedPos):
        self.emulator, self.rows = emulator, emulator.store
        self.outlet_ids, self.product_ids = loaded.ids["outlet_ids"], loaded.ids["product_ids"]
        self.store_of_outlet = {outlet: store for store, outlet in self.outlet_ids.items()}

    # stock --------------------------------------------------------------------------------------
    def count(self, sku: str, store: str) -> int:
        return int(self.rows.inventory_row(self.product_ids[sku], self.outlet_ids[store])["inventory_level"])

    def set_count(self, sku: str, store: str, level: int) -> None:
        self.rows.set_stock(self.product_ids[sku], self.outlet_ids[store], level)

    def adjust_count(self, sku: str, store: str, delta: int) -> None:
        self.emulator.adjust_inventory(self.product_ids[sku], self.outlet_ids[store], delta, "STOCK_COUNT")

    # sales --------------------------------------------------------------------------------------
    def _sale_view(self, sale: dict) -> dict:
        return {"id": sale["id"], "store": self.store_of_outlet.get(sale.get("outlet_id")),
                "status": CANONICAL_STATUS.get(sale.get("status"), sale.get("status")),
                "order_id": sale.get("source_id") if sale.get("source") == "omnisync" else None,
                "receipt": sale.get("invoice_number"), "return_for": sale.get("return_for")}

    def sales(self, **match) -> list[dict]:
        views = (self._sale_view(s) for s in self.rows.rows["sales"].values())
        return [v for v in views if all(v.get(k) == want for k, want in match.items())]

    def fulfil(self, sale_id: str, status: str) -> None:
        if status == pos.CANCELLED:  # voided at the till
            sale = self.rows.get("sales", sale_id)
            save_register_sale(self.rows, {"id": sale_id, "register_id": sale["register_id"], "status": "VOIDED"})
        elif status in FULFILMENT_TYPE:
            fulfill(self.rows, sale_id, FULFILMENT_TYPE[status])
        else:
            raise ValueError(f"a sale cannot be moved to {status!r} at the till")

    # catalog and customers ----------------------------------------------------------------------
    def products(self) -> list[dict]:
        taxes = {t["id"]: tax_rate(t) for t in self.rows.rows["taxes"].values()}
        books = {b["id"]: self.store_of_outlet.get(b.get("outlet_id")) for b in self.rows.rows["price_books"].values()
                 if not b.get("deleted_at")}
        store_prices: dict[str, dict[str, list[float]]] = {}
        for entry in self.rows.rows["price_book_products"].values():
            store = books.get(entry["price_book_id"])
            product = self.rows.get("products", entry["product_id"])
            if store and product and not entry.get("deleted_at"):
                rate = taxes.get(entry.get("tax_id") or product.get("tax_id"), Decimal(0))
                gross = float((Decimal(str(entry["price"])) * (1 + rate)).quantize(Decimal("0.01")))
                store_prices.setdefault(entry["product_id"], {}).setdefault(store, []).append(gross)
        return [{"id": p["id"], "sku": p.get("sku"), "name": p.get("name"), "variant_name": p.get("variant_name"),
                 "barcodes": [c.get("code") for c in p.get("product_codes") or []], "price": _charged(p.get("price_including_tax")),
                 "family": p.get("variant_parent_id") or p["id"], "store_prices": store_prices.get(p["id"], {}),
                 "revision": p["version"]}
                for p in self.rows.rows["products"].values() if not p.get("deleted_at")]

    def customers(self, **match) -> list[dict]:
        views = ({"id": c["id"], "email": c.get("email"), "first_name": c.get("first_name"),
                  "last_name": c.get("last_name"), "phone": c.get("phone"), "external_id": c.get("customer_code"),
                  "loyalty_id": c.get("customer_code") if c.get("enable_loyalty") else None}
                 for c in self.rows.rows["customers"].values() if not c.get("deleted_at"))
        return [v for v in views if all(v.get(k) == want for k, want in match.items())]

    def add_customer(self, **fields) -> str:
        return save_customer(self.rows, _customer_body(fields))["id"]

    def edit_customer(self, customer_id: str, **fields) -> None:
        save_customer(self.rows, _customer_body(fields), customer_id)


def _customer_body(fields: dict) -> dict:
    body = {k: v for k, v in fields.items() if k in ("first_name", "last_name", "email", "phone")}
    if fields.get("loyalty_id"):
        body.update(customer_code=fields["loyalty_id"], enable_loyalty=True)
    elif fields.get("external_id"):
        body["customer_code"] = fields["external_id"]
    return body


def _charged(gross) -> float | None:
    """What the till charges for a price kept at 5 decimals: rounded half-up to the cent."""
    return None if gross is None else float(Decimal(str(gross)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class XSeriesSandbox(pos.SandboxPos):
    system = tills.SYSTEM

    def emulator(self, seed: int, secret: str | None = None) -> LightspeedXEmulator:
        return LightspeedXEmulator(seed=seed, **({"personal_token": secret} if secret else {}))

    async def load(self, world: World, stores: list[Store], client: httpx.AsyncClient, emulator) -> pos.LoadedPos:
        return await tills.load(world, stores, client, emulator, self.system)

    async def play(self, events: list, loaded: pos.LoadedPos, world: World, client: httpx.AsyncClient,
                   emulator) -> Counter:
        return await tills.Till(loaded, world, client, emulator).play(events)

    def system_block(self, base_url: str, emulator: LightspeedXEmulator) -> dict:
        credentials = emulator.credentials(base_url)
        return {"base_url": credentials["base_url"], "domain_prefix": credentials["domain_prefix"],
                "registers": max(1, len(emulator.store.rows["registers"]))}  # the budget is per register

    def environment(self, base_url: str, emulator: LightspeedXEmulator) -> dict[str, str]:
        return {"OMNISYNC_LSX_TOKEN": emulator.credentials(base_url)["personal_token"]}

    def probe(self, emulator: LightspeedXEmulator, loaded: pos.LoadedPos) -> XSeriesProbe:
        return XSeriesProbe(emulator, loaded)

    def bench(self):
        from omnisync_pipelines.sandbox.emulators.lightspeed_x.bench_hooks import LightspeedXBenchHooks

        return LightspeedXBenchHooks()


PLUGIN = XSeriesSandbox()
