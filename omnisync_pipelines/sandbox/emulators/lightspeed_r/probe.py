"""`RSeriesProbe`: what a scenario test reads from the R-Series emulator's rows and does behind the API's
back (a clerk in the back office or at the till), in retail terms: stores by key, items by SKU.

Sales serving an online order are the open Sales omnisync creates (`referenceNumberSource` "omnisync",
`referenceNumber` = the order id); their canonical status comes from completed / voided / shipToID."""

from __future__ import annotations

from omnisync_pipelines.sandbox import pos
from omnisync_pipelines.sandbox.emulators.lightspeed_r import customers as custom_fields
from omnisync_pipelines.sandbox.emulators.lightspeed_r import sales as till_sales
from omnisync_pipelines.sandbox.emulators.lightspeed_r import writes
from omnisync_pipelines.sandbox.emulators.lightspeed_r.tills import (
    ACCOUNT_CURRENCY,
    EXTERNAL_ID,
    LOYALTY_ID,
    customer_body,
)

DEFAULT_LEVEL = 1  # PriceLevel "Default": the base price


class RSeriesProbe(pos.PosProbe):
    def __init__(self, emulator, loaded: pos.LoadedPos):
        self.emulator, self.rows, self.ids = emulator, emulator.store, loaded.ids
        self.shop_ids, self.item_ids = self.ids["shop_ids"], self.ids["item_ids"]
        self.store_of_shop = {shop: store for store, shop in self.shop_ids.items()}
        self.currency_of = {store: block.get("currency") for store, block in loaded.location_blocks.items()}

    def _table(self, name: str) -> dict[int, dict]:
        return self.rows.tables[name]

    # stock --------------------------------------------------------------------------------------
    def _item_shop(self, sku: str, store: str) -> dict:
        return self.rows.item_shop(self.item_ids[sku], self.shop_ids[store])

    def count(self, sku: str, store: str) -> int:
        """The store's units not set aside: qoh less the layaways that hold units for online orders (the
        sandbox world's count drops when an order is set aside, as an X-Series pickup sale takes stock)."""
        row = self._item_shop(sku, store)
        return int(row["qoh"]) - int(row["onLayaway"])

    def set_count(self, sku: str, store: str, level: int) -> None:
        """Staff count the shelf: the units set aside on layaway are counted with it (qoh includes them)."""
        item = self._table("Item")[self.item_ids[sku]]
        qoh = level + int(self._item_shop(sku, store)["onLayaway"])
        writes.update_item(self.rows, item, {"ItemShops": {"ItemShop": [{"shopID": self.shop_ids[store], "qoh": qoh}]}})

    def adjust_count(self, sku: str, store: str, delta: int) -> None:
        self.set_count(sku, store, self.count(sku, store) + delta)

    # sales --------------------------------------------------------------------------------------
    def _status(self, sale: dict) -> str:
        shipped = int(sale.get("shipToID") or 0) != 0
        if sale.get("referenceNumberSource") != "omnisync":  # a till sale: the POS's own words
            return "voided" if sale.get("voided") else "completed" if sale.get("completed") else "open"
        if sale.get("voided"):
            return pos.CANCELLED
        if sale.get("completed"):
            return pos.DISPATCHED if shipped else pos.PICKED_UP
        return pos.WAITING_DISPATCH if shipped else pos.WAITING_PICKUP

    def _sale_view(self, sale: dict) -> dict:
        lines = self._table("SaleLine")
        parents = {lines[p]["saleID"] for line in lines.values() if line["saleID"] == sale["saleID"]
                   for p in [int(line.get("parentSaleLineID") or 0)] if p in lines}
        return {"id": str(sale["saleID"]), "store": self.store_of_shop.get(sale.get("shopID")),
                "status": self._status(sale),
                "order_id": sale.get("referenceNumber") if sale.get("referenceNumberSource") == "omnisync" else None,
                "receipt": sale.get("ticketNumber") or str(sale["saleID"]),
                "return_for": str(min(parents)) if parents else None}

    def sales(self, **match) -> list[dict]:
        views = (self._sale_view(s) for s in self._table("Sale").values())
        return [v for v in views if all(v.get(k) == want for k, want in match.items())]

    def fulfil(self, sale_id: str, status: str) -> None:
        sale = self._table("Sale")[int(sale_id)]
        if status == pos.CANCELLED:  # voided at the till: the layaways go back on the shelf
            till_sales.update_sale(self.rows, sale, {"voided": True})
        elif status in (pos.PICKED_UP, pos.DISPATCHED):  # paid by card at the till: the units leave the shop
            due = round(sale["calcTotal"] - sale["calcPayments"], 2)
            payment = {"paymentTypeID": self.ids["payment_type_ids"]["card"], "amount": due}
            body = {"completed": True, "SalePayments": {"SalePayment": [payment] if due else []}}
            if status == pos.DISPATCHED and int(sale.get("shipToID") or 0):
                body["ShipTo"] = {"shipped": True}
            till_sales.update_sale(self.rows, sale, body)
        else:
            raise ValueError(f"a sale cannot be moved to {status!r} at the till")

    # catalog and customers ----------------------------------------------------------------------
    def products(self) -> list[dict]:
        matrices, shops = self._table("ItemMatrix"), self._table("Shop")
        # a store trading in another currency than the account's sells at its level: its base price there
        own_levels = {int(shops[shop].get("priceLevelID") or DEFAULT_LEVEL): store
                      for store, shop in self.shop_ids.items()
                      if shop in shops and self.currency_of.get(store) in (None, ACCOUNT_CURRENCY)}
        own_levels.pop(DEFAULT_LEVEL, None)
        views = []
        for item in self._table("Item").values():
            if item.get("archived"):
                continue
            prices = {int(p["useTypeID"]): float(p["amount"]) for p in item.get("Prices") or []}
            matrix = matrices.get(int(item.get("itemMatrixID") or 0))
            views.append({
                "id": str(item["itemID"]), "sku": item.get("customSku") or None,
                "name": matrix["description"] if matrix else item.get("description"),
                "variant_name": item.get("description"),
                "barcodes": [code for code in (item.get("ean"), item.get("upc")) if code],
                "price": prices.get(DEFAULT_LEVEL), "family": str(matrix["itemMatrixID"] if matrix else item["itemID"]),
                "store_prices": {store: [prices[level]] for level, store in own_levels.items() if prices.get(level)},
                "revision": item.get("timeStamp")})
        return views

    def _customer_view(self, customer: dict) -> dict:
        contact = self.rows.contacts.get(("Customer", customer["customerID"])) or {}
        emails = contact.get("Emails") or []
        email = next((e for e in emails if e.get("useType") == "Primary"), emails[0] if emails else {})
        phones = contact.get("Phones") or []
        names = {f["customFieldID"]: f["name"] for f in self._table("CustomField").values()}
        values = {names.get(v["customFieldID"]): v["value"]
                  for v in custom_fields.values_of(self.rows, customer["customerID"])}
        return {"id": str(customer["customerID"]), "email": email.get("address") or None,
                "first_name": customer.get("firstName") or None, "last_name": customer.get("lastName") or None,
                "phone": phones[0].get("number") if phones else None,
                "external_id": values.get(EXTERNAL_ID) or None, "loyalty_id": values.get(LOYALTY_ID) or None}

    def customers(self, **match) -> list[dict]:
        views = (self._customer_view(c) for c in self._table("Customer").values() if not c.get("archived"))
        return [v for v in views if all(v.get(k) == want for k, want in match.items())]

    def add_customer(self, **fields) -> str:
        return str(writes.new_customer(self.rows, customer_body(self.ids["custom_field_ids"], **fields))["customerID"])

    def edit_customer(self, customer_id: str, **fields) -> None:
        customer = self._table("Customer")[int(customer_id)]
        writes.update_customer(self.rows, customer, customer_body(self.ids["custom_field_ids"], **fields))
