"""The R-Series part of the bad-input corpus (corpus.py): malformed sales, refunds, item shop counts,
inventory log rows, items, prices and customers written raw into the emulator's tables, as a buggy
integration or a broken till would leave them. The API prints every scalar as a string and a relation as
an object, a list or `""`, so the odd shapes here are odd strings (`"two"`, `"12,50"`, `"yes"`), numbers
with too many decimals, and relations with no children. R-Series has no webhooks: nothing to silence.

Counts are spoilt only on SKUs no event of the day names (and not the one the oversold control takes),
so that no sale, reservation or count of the day trips over them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from omnisync_pipelines.sandbox.emulators.lightspeed_r import writes
from omnisync_pipelines.sandbox.world import Sale, StoreReturn
from omnisync_pipelines_tests.reliability import corpus
from omnisync_pipelines_tests.reliability.corpus import HUGE, Case
from omnisync_pipelines_tests.reliability.harness import Rig

NOWHERE = 999_999  # an id no table holds
# R-Series ids are small numbers per table, and a rejection names its record by id alone: the records
# injected here take ids far from those of the day's sales, so that no sale is mistaken for one of them
FAR = {"Customer": 700_000, "Item": 710_000, "ItemShop": 720_000, "InventoryLog": 730_000}


def _rows(rig: Rig):
    return rig.pos_emulator.store


@contextmanager
def _far_ids(rig: Rig, *tables: str) -> Iterator[None]:
    """Rows inserted meanwhile into `tables` take ids from the table's FAR range on (the store gives a
    new row the highest id + 1: a placeholder row stands at the floor while they are inserted)."""
    store = _rows(rig)
    placed = []
    for table in tables:
        floor = max(FAR[table], max(store.tables[table], default=0))
        if floor not in store.tables[table]:
            store.tables[table][floor] = {}
            placed.append((table, floor))
    try:
        yield
    finally:
        for table, floor in placed:
            del store.tables[table][floor]


def _ids(rig: Rig) -> dict:
    return rig.loaded.pos[rig.pos].ids


def _quiet_skus(rig: Rig) -> list[str]:
    """SKUs no event of the days names, first to last, without the one `corpus.oversold_count` takes."""
    traded = " ".join(repr(event) for day in rig.days for event in day.events)
    quiet = [v.sku for v in rig.world.variants if repr(v.sku) not in traded]
    return quiet[:-1]


# sales and refunds ----------------------------------------------------------------------------------
def _template(rig: Rig, returned: bool) -> int:
    """A one-line till sale (or refund of a receipt) the day rang up."""
    kind = StoreReturn if returned else Sale
    events = {e.event_id for d in rig.days for e in d.events
              if isinstance(e, kind) and (not returned or e.of_sale)}
    store = _rows(rig)
    for event_id, sale_id in rig.loaded.sale_ids.items():
        lines = [x for x in store.tables["SaleLine"].values() if x["saleID"] == int(sale_id)]
        if event_id in events and len(lines) == 1:
            return int(sale_id)
    raise AssertionError(f"no one-line {kind.__name__} played to copy")


Change = Callable[[dict, list[dict], list[dict]], None]  # (sale, lines, payments), native rows


def _sale(rig: Rig, change: Change, returned: bool = False) -> str:
    """A copy of a played sale with new ids (`updatetime` now, so the next delta reads it), then `change`d."""
    store = _rows(rig)
    original = store.tables["Sale"][_template(rig, returned)]
    sale = store.insert("Sale", copy.deepcopy(original))
    sale["ticketNumber"] = f"2299999{sale['saleID']:05d}"
    lines = [store.insert("SaleLine", {**copy.deepcopy(x), "saleID": sale["saleID"]})
             for x in list(store.tables["SaleLine"].values()) if x["saleID"] == original["saleID"]]
    payments = [store.insert("SalePayment", {**copy.deepcopy(p), "saleID": sale["saleID"]})
                for p in list(store.tables["SalePayment"].values()) if p["saleID"] == original["saleID"]]
    change(sale, lines, payments)
    sale["updatetime"] = store.now()
    return str(sale["saleID"])


def _set(**fields) -> Change:
    def change(sale: dict, lines: list[dict], payments: list[dict]) -> None:
        sale.update(fields)
    return change


def _line(field: str, value) -> Change:
    def change(sale: dict, lines: list[dict], payments: list[dict]) -> None:
        lines[0][field] = value
    return change


def _pay(field: str, value) -> Change:
    def change(sale: dict, lines: list[dict], payments: list[dict]) -> None:
        payments[0][field] = value
    return change


def _third_decimal(sale: dict, lines: list[dict], payments: list[dict]) -> None:
    payments[0]["amount"] = round(payments[0]["amount"] + 0.005, 3)


def _short_paid(sale: dict, lines: list[dict], payments: list[dict]) -> None:
    """The till took five less than the sale's total (a completed sale must balance, sales tutorial)."""
    payments[0]["amount"] = round(payments[0]["amount"] - 5.0, 2)


def _unknown_tender(rig: Rig) -> Change:
    store = _rows(rig)
    bitcoin = store.insert("PaymentType", {"name": "Bitcoin", "requireCustomer": False, "archived": False,
                                           "internalReserved": False, "type": "crypto", "refundAsPaymentTypeID": 0})
    return _pay("paymentTypeID", bitcoin["paymentTypeID"])


def _no_lines(rig: Rig) -> tuple[str, str]:
    """A completed sale whose lines are gone: `SaleLines` prints as `""`."""
    def change(sale: dict, lines: list[dict], payments: list[dict]) -> None:
        for line in lines:
            line["saleID"] = 0
    return _sale(rig, change), "salelines"


def _unmapped_shop(rig: Rig) -> tuple[str, str]:
    """A sale rung up at a shop the retailer opened in the back office but never mapped to a store."""
    popup = rig.pos_emulator.seed_shop("Pop-up Store")
    return _sale(rig, _set(shopID=popup["shopID"])), "shop"


def _note(rig: Rig, text: str) -> Change:
    def change(sale: dict, lines: list[dict], payments: list[dict]) -> None:
        for line in lines:
            line["noteID"] = _rows(rig).insert("Note", {"note": text, "isPublic": False})["noteID"]
    return change


def _refunding_more_than_sold(rig: Rig) -> tuple[str, str]:
    """A refund of five more units than its parent line sold (a till caps a refund at what is left of the
    line): every amount consistent with the units, so that the count is the only thing wrong."""
    store = _rows(rig)

    def change(sale: dict, lines: list[dict], payments: list[dict]) -> None:
        line = lines[0]
        sold = store.tables["SaleLine"][line["parentSaleLineID"]]["unitQuantity"]
        quantity = -(sold + 5)
        scale = quantity / line["unitQuantity"]
        for field in ("calcTotal", "calcSubtotal", "calcTax1", "calcTax2", "calcLineDiscount", "displayableSubtotal"):
            line[field] = round(line[field] * scale, 2)
        line["unitQuantity"] = quantity
        for field in ("calcTotal", "calcSubtotal", "calcTax1", "calcTax2", "total", "totalDue", "displayableTotal"):
            sale[field] = round(sale[field] * scale, 2)
        sale["calcPayments"] = sale["total"]
        for extra in payments[1:]:
            extra["saleID"] = 0  # one refund payment for the whole amount
        payments[0]["amount"] = sale["total"]
    return _sale(rig, change, returned=True), "quantity"


def _unknown_web_order(sale: dict, lines: list[dict], payments: list[dict]) -> None:
    """A till refund naming an online order commercetools never had, and no parent lines."""
    sale.update(referenceNumber="WEB-NO-SUCH-ORDER", referenceNumberSource="commercetools")
    for line in lines:
        line["parentSaleLineID"] = 0


# counts, logs, items, customers -------------------------------------------------------------------
def _item_shop(rig: Rig, nth_quiet: int, qoh) -> tuple[str, str]:
    """Overwrite the count of a quiet SKU at the first store with `qoh`."""
    sku, store_key = _quiet_skus(rig)[nth_quiet], rig.world.stores[0].key
    store = _rows(rig)
    row = store.item_shop(_ids(rig)["item_ids"][sku], _ids(rig)["shop_ids"][store_key])
    row["qoh"] = qoh
    store.touch(row)
    corpus.POISONED.add((sku, store_key))
    return str(row["itemShopID"]), "qoh"


def _extra_item_shop(rig: Rig, *, item_id: int | None = None, shop_id: int | None = None) -> str:
    """An ItemShop row of an unknown item or shop (with a plausible count), beside a quiet SKU's rows."""
    store = _rows(rig)
    quiet_item, first_shop = _ids(rig)["item_ids"][_quiet_skus(rig)[3]], _ids(rig)["shop_ids"][rig.world.stores[0].key]
    row = copy.deepcopy(store.item_shop(quiet_item, first_shop))
    row.update(itemID=item_id or quiet_item, shopID=shop_id or first_shop, qoh=4, onLayaway=0)
    with _far_ids(rig, "ItemShop"):
        return str(store.insert("ItemShop", row)["itemShopID"])


def _ghost_sku_stock(rig: Rig) -> tuple[str, str]:
    """An item keyed in at the till with a SKU commercetools never had (zero-width space, RTL override)."""
    shop_id = _ids(rig)["shop_ids"][rig.world.stores[0].key]
    with _far_ids(rig, "Item"):
        ghost = writes.new_item(_rows(rig), {"description": "Ghost \u202etluser", "customSku": "GHOST-\u200bSKU",
                                             "Prices": {"ItemPrice": [{"useTypeID": 1, "amount": 9.99}]}})
    _rows(rig).set_qoh(ghost["itemID"], shop_id, 3, "ItemCreated")
    return f"GHOST-\u200bSKU@{rig.world.stores[0].key}", "sku"


def _log(rig: Rig, qoh_change) -> tuple[str, str]:
    """An InventoryLog row whose qohChange is not a whole number of units."""
    sku = _quiet_skus(rig)[4]
    store, shop_id, item_id = _rows(rig), _ids(rig)["shop_ids"][rig.world.stores[0].key], _ids(rig)["item_ids"][sku]
    with _far_ids(rig, "InventoryLog"):
        row = store.insert("InventoryLog", {
            "shopID": shop_id, "employeeID": 0, "itemID": item_id, "qohChange": qoh_change, "costChange": 0.0,
            "createTime": store.now(), "automated": False, "causedNegative": False, "reason": "ManualAdjustment",
            "customerID": 0, "inventoryCountID": 0, "itemImportID": 0, "orderID": 0, "saleID": 0, "transferID": 0,
            "vendorReturnID": 0})
    return str(row["inventoryLogID"]), "qohchange"


def _item(rig: Rig, sku: str, description: str = "Broken Tee / RED / S", **raw) -> str:
    """An item created as the API would, then `raw` fields overwritten as no API would."""
    with _far_ids(rig, "Item"):
        row = writes.new_item(_rows(rig), {"description": "Broken item", "customSku": sku,
                                           "Prices": {"ItemPrice": [{"useTypeID": 1, "amount": 19.99}]}})
    row.update(description=description, **raw)
    return str(row["itemID"])


def _duplicate_sku(rig: Rig) -> tuple[str, str]:
    """Two items keyed in with one SKU: neither can say which one a count or a sale line means."""
    _item(rig, "DUP-SKU-1")
    return _item(rig, "DUP-SKU-1"), "customsku"


def _price_with_third_decimal(rig: Rig) -> tuple[str, str]:
    return _item(rig, "BAD-PRICE-1", Prices=[{"useTypeID": 1, "amount": 19.999}]), "amount"


def _customer(rig: Rig, email: str, **raw) -> str:
    with _far_ids(rig, "Customer"):
        row = writes.new_customer(_rows(rig), {"firstName": "Broken", "lastName": "Record", "Contact": {
            "Emails": {"ContactEmail": {"address": email, "useType": "Primary"}}}})
    row.update(raw)
    return str(row["customerID"])


CASES = [
    # R-Series sales -> commercetools orders
    Case("sale: unknown tender", "lightspeed_r", "orders", lambda r: (_sale(r, _unknown_tender(r)), "payment")),
    Case("sale: payment with a third decimal", "lightspeed_r", "orders", lambda r: (_sale(r, _third_decimal), "amount")),
    Case("sale: payments do not balance the total", "lightspeed_r", "orders", lambda r: (_sale(r, _short_paid), "payment")),
    Case("sale: payment amount missing", "lightspeed_r", "orders", lambda r: (_sale(r, _pay("amount", None)), "amount")),
    Case("sale: fractional quantity", "lightspeed_r", "orders", lambda r: (_sale(r, _line("unitQuantity", 1.5)), "quantity")),
    Case("sale: quantity as an odd string", "lightspeed_r", "orders",
         lambda r: (_sale(r, _line("unitQuantity", "two")), "quantity")),
    Case("sale: line of an unknown item", "lightspeed_r", "orders", lambda r: (_sale(r, _line("itemID", NOWHERE)), "item")),
    Case("sale: total with a decimal comma", "lightspeed_r", "orders", lambda r: (_sale(r, _set(total="12,50")), "total")),
    Case("sale: completed flag as an odd string", "lightspeed_r", "orders",
         lambda r: (_sale(r, _set(completed="yes")), "completed")),
    Case("sale: unparseable completeTime", "lightspeed_r", "orders",
         lambda r: (_sale(r, _set(completeTime="yesterday")), "completetime")),
    Case("sale: SaleLines empty", "lightspeed_r", "orders", _no_lines),
    Case("sale: in an unmapped shop", "lightspeed_r", "orders", _unmapped_shop),
    # R-Series refunds -> returns
    Case("refund: parentSaleLineID points nowhere", "lightspeed_r", "returns",
         lambda r: (_sale(r, _line("parentSaleLineID", NOWHERE), returned=True), "parentsalelineid")),
    Case("refund: unknown reason code", "lightspeed_r", "returns",
         lambda r: (_sale(r, _note(r, "gremlins"), returned=True), "reason")),
    Case("refund: more units back than were sold", "lightspeed_r", "returns", _refunding_more_than_sold),
    Case("refund: of an online order commercetools never had", "lightspeed_r", "returns",
         lambda r: (_sale(r, _unknown_web_order, returned=True), "original")),
    # R-Series item shops -> stock, inventory log -> stock movements
    Case("stock: qoh not a number", "lightspeed_r", "stock", lambda r: _item_shop(r, 0, "seven")),
    Case("stock: fractional qoh", "lightspeed_r", "stock", lambda r: _item_shop(r, 1, 2.5)),
    Case("stock: qoh missing", "lightspeed_r", "stock", lambda r: _item_shop(r, 2, None)),
    Case("stock: unknown shop", "lightspeed_r", "stock", lambda r: (_extra_item_shop(r, shop_id=NOWHERE), "shop")),
    Case("stock: unknown item", "lightspeed_r", "stock", lambda r: (_extra_item_shop(r, item_id=NOWHERE), "item")),
    Case("stock: SKU unknown to commercetools, with unicode oddities", "lightspeed_r", "stock", _ghost_sku_stock),
    Case("movement: qohChange not a number", "lightspeed_r", "stock_movements", lambda r: _log(r, "lots")),
    Case("movement: fractional qohChange", "lightspeed_r", "stock_movements", lambda r: _log(r, -1.5)),
    # R-Series items and prices
    Case("item: empty customSku", "lightspeed_r", "catalog", lambda r: (_item(r, "", customSku=""), "customsku")),
    Case("item: duplicate customSku", "lightspeed_r", "catalog", _duplicate_sku),
    Case("item: huge description", "lightspeed_r", "catalog", lambda r: (_item(r, "HUGE-DESC-1", HUGE), "description")),
    Case("price: more decimals than the currency", "lightspeed_r", "prices", _price_with_third_decimal),
    Case("price: no Default price (Prices empty)", "lightspeed_r", "prices",
         lambda r: (_item(r, "NO-PRICE-1", Prices=[]), "prices")),
    # R-Series customers
    Case("customer: invalid email", "lightspeed_r", "customers", lambda r: (_customer(r, "not-an-email"), "email")),
    Case("customer: email with a zero-width space", "lightspeed_r", "customers",
         lambda r: (_customer(r, "ann\u200b@example.com"), "email")),
    Case("customer: huge first name", "lightspeed_r", "customers",
         lambda r: (_customer(r, "huge.name@example.com", firstName=HUGE), "firstname")),
    Case("customer: name of the wrong type", "lightspeed_r", "customers",
         lambda r: (_customer(r, "wrong.type@example.com", lastName={"oops": 1}), "lastname")),
]
