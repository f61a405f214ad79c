"""The X-Series part of the bad-input corpus (corpus.py): malformed sales, returns, transfers, counts,
products and customers written raw into the emulator's store, as a buggy integration or a broken till
would leave them. `raw_writes` keeps the emulator from announcing them by webhook (no webhook would
describe such rows)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from omnisync_pipelines.sandbox.world import Sale, StoreReturn
from omnisync_pipelines_tests.reliability import corpus
from omnisync_pipelines_tests.reliability.corpus import HUGE, Case, new_id
from omnisync_pipelines_tests.reliability.harness import Rig


def _rows(rig: Rig):
    return rig.pos_emulator.store


def _ids(rig: Rig) -> dict:
    return rig.loaded.pos[rig.pos].ids


@contextmanager
def raw_writes(rig: Rig) -> Iterator[None]:
    hooks, _rows(rig).on_change = _rows(rig).on_change, None
    try:
        yield
    finally:
        _rows(rig).on_change = hooks


def _sale_template(rig: Rig, returned: bool = False) -> dict:
    kind = StoreReturn if returned else Sale
    ids = {v for k, v in rig.loaded.sale_ids.items()
           if any(e.event_id == k and isinstance(e, kind) and (not returned or e.of_sale) for d in rig.days for e in d.events)}
    row = next(r for r in _rows(rig).rows["sales"].values() if r["id"] in ids and len(r["line_items"]) == 1)
    return copy.deepcopy(row)


def _sale(rig: Rig, change: Callable[[dict], None], returned: bool = False) -> str:
    row = _sale_template(rig, returned)
    row["id"] = new_id()
    for line in row["line_items"]:
        line["id"] = new_id()
    for payment in row["payments"]:
        payment["id"] = new_id()
    row["invoice_number"] = row["receipt_number"] = str(90000 + len(_rows(rig).rows["sales"]))
    change(row)
    _rows(rig).bump("sales", row)
    return row["id"]


def _product(rig: Rig, change: Callable[[dict], None]) -> dict:
    row = copy.deepcopy(next(iter(_rows(rig).rows["products"].values())))
    row["id"] = new_id()
    change(row)
    return _rows(rig).bump("products", row)


def _inventory(rig: Rig, level, variant: int = 0, product_id: str | None = None, outlet_id: str | None = None) -> str:
    """Overwrite the count of the `variant`-th SKU at the first store (or add a row for unknown ids)."""
    if product_id or outlet_id:
        product_id = product_id or _ids(rig)["product_ids"][rig.world.variants[0].sku]
        outlet_id = outlet_id or _ids(rig)["outlet_ids"][rig.world.stores[0].key]
        row = {"id": new_id(), "product_id": product_id, "outlet_id": outlet_id, "inventory_level": level,
               "current_amount": level, "reorder_point": 0, "reorder_amount": 0, "average_cost": 0.0}
    else:
        sku, store = rig.world.variants[variant].sku, rig.world.stores[0].key
        row = dict(_rows(rig).inventory_row(_ids(rig)["product_ids"][sku], _ids(rig)["outlet_ids"][store]))
        row["inventory_level"] = row["current_amount"] = level
        corpus.POISONED.add((sku, store))
    _rows(rig).bump("inventory", row)
    return row["id"]


def _customer(rig: Rig, **fields) -> str:
    row = copy.deepcopy(next(iter(_rows(rig).rows["customers"].values())))
    row.update({"id": new_id(), "customer_code": f"BAD-{len(_rows(rig).rows['customers'])}", **fields})
    _rows(rig).bump("customers", row)
    return row["id"]


def _line(field: str, value) -> Callable[[dict], None]:
    def change(row: dict) -> None:
        row["line_items"][0][field] = value
    return change


def _set(**fields) -> Callable[[dict], None]:
    def change(row: dict) -> None:
        row.update(fields)
    return change


def _pay(field: str, value) -> Callable[[dict], None]:
    def change(row: dict) -> None:
        row["payments"][0][field] = value
    return change


def _wrong_scale(row: dict) -> None:
    row["payments"][0]["amount"] = round(row["payments"][0]["amount"] + 0.005, 3)


def _unknown_tender(row: dict) -> None:
    row["payments"][0].update({"name": "Bitcoin", "payment_type_id": "99", "retailer_payment_type_id": "unknown"})


def _ghost_sku_stock(rig: Rig) -> tuple[str, str]:
    ghost = _product(rig, _set(sku="GHOST-\u200bSKU", name="Ghost \u202etluser"))  # zero-width space, RTL override
    _rows(rig).set_stock(ghost["id"], _ids(rig)["outlet_ids"][rig.world.stores[0].key], 3)
    return f"GHOST-\u200bSKU@{rig.world.stores[0].key}", "sku"


def _returning_more_than_sold(rig: Rig) -> tuple[str, str]:
    """A return of five more units than its original sale sold: a till's `actions/return` never
    gives back more than was sold, so this is a broken record, not a return."""
    def change(row: dict) -> None:
        line = row["line_items"][0]
        original = _rows(rig).rows["sales"][row["return_for"]]
        sold = sum(int(x["quantity"]) for x in original["line_items"] if x["product_id"] == line["product_id"])
        quantity = -(sold + 5)
        # every amount consistent with the units, so that the count is the only thing wrong
        net, tax = round(line["price"] * quantity, 2), round(line["tax"] * quantity, 2)
        line.update(quantity=quantity, price_total=net, total_price=net, tax_total=tax, total_tax=tax)
        row.update(total_price=net, total_tax=tax, note="reason:size")
        row["payments"] = row["payments"][:1]
        row["payments"][0]["amount"] = round(net + tax, 2)
    return _sale(rig, change, returned=True), "quantity"


def _transfer_of_negative_units(rig: Rig) -> tuple[str, str]:
    """An outlet transfer received with -3 units on its line: a consignment counts what is moved,
    never less than nothing (read as it stands, it would move stock backwards)."""
    template = next(c for c in _rows(rig).rows["consignments"].values() if c["type"] == "OUTLET")
    row = {**copy.deepcopy(template), "id": new_id(), "name": "transfer with a negative count"}
    line = copy.deepcopy(_rows(rig).consignment_products[template["id"]][0])
    _rows(rig).consignment_products[row["id"]] = [{**line, "count": -3, "received": -3}]
    _rows(rig).bump("consignments", row)
    return row["id"], "count"




CASES = [
    # X-Series sales -> commercetools orders
    Case("sale: unknown tender", "lightspeed_x", "orders", lambda r: (_sale(r, _unknown_tender), "payment")),
    Case("sale: payment with a third decimal", "lightspeed_x", "orders", lambda r: (_sale(r, _wrong_scale), "amount")),
    Case("sale: fractional quantity", "lightspeed_x", "orders", lambda r: (_sale(r, _line("quantity", 1.5)), "quantity")),
    Case("sale: quantity of the wrong type", "lightspeed_x", "orders", lambda r: (_sale(r, _line("quantity", "two")), "quantity")),
    Case("sale: unknown product (no SKU)", "lightspeed_x", "orders", lambda r: (_sale(r, _line("product_id", "no-such-product")), "product")),
    Case("sale: unknown outlet", "lightspeed_x", "orders",
         lambda r: (_sale(r, _set(outlet_id="no-such-outlet", register_id="no-such-register")), "outlet")),
    Case("sale: unparseable sale_date", "lightspeed_x", "orders", lambda r: (_sale(r, _set(sale_date="yesterday")), "sale_date")),
    Case("sale: line_items not a list", "lightspeed_x", "orders", lambda r: (_sale(r, _set(line_items="oops")), "line_items")),
    Case("sale: payment amount missing", "lightspeed_x", "orders", lambda r: (_sale(r, _pay("amount", None)), "amount")),
    # X-Series returns
    Case("return: unknown reason code", "lightspeed_x", "returns",
         lambda r: (_sale(r, _set(note="reason:gremlins"), returned=True), "reason")),
    Case("return: of an unknown original sale", "lightspeed_x", "returns",
         lambda r: (_sale(r, _set(return_for="no-such-sale", note="reason:size"), returned=True), "original")),
    Case("return: more units back than were sold", "lightspeed_x", "returns", _returning_more_than_sold),
    # X-Series transfers (consignments) -> stock movements
    Case("transfer: negative count", "lightspeed_x", "stock_movements", _transfer_of_negative_units),
    # X-Series inventory -> stock
    Case("stock: fractional count", "lightspeed_x", "stock", lambda r: (_inventory(r, 2.5, variant=1), "inventory_level")),
    Case("stock: count of the wrong type", "lightspeed_x", "stock", lambda r: (_inventory(r, "seven", variant=2), "inventory_level")),
    Case("stock: count missing", "lightspeed_x", "stock", lambda r: (_inventory(r, None, variant=3), "inventory_level")),
    Case("stock: unknown location", "lightspeed_x", "stock",
         lambda r: (_inventory(r, 4, outlet_id="no-such-outlet"), "outlet")),
    Case("stock: unknown product", "lightspeed_x", "stock",
         lambda r: (_inventory(r, 4, product_id="no-such-product"), "product")),
    Case("stock: SKU unknown to commercetools, with unicode oddities", "lightspeed_x", "stock", _ghost_sku_stock),
    # X-Series products and customers
    Case("product: missing SKU", "lightspeed_x", "catalog", lambda r: (_product(r, _set(sku=""))["id"], "sku")),
    Case("customer: invalid email", "lightspeed_x", "customers", lambda r: (_customer(r, email="not-an-email"), "email")),
    Case("customer: email with a zero-width space", "lightspeed_x", "customers",
         lambda r: (_customer(r, email="ann\u200b@example.com"), "email")),
    Case("customer: huge first name", "lightspeed_x", "customers",
         lambda r: (_customer(r, first_name=HUGE, email="huge.name@example.com"), "first_name")),
    Case("customer: name of the wrong type", "lightspeed_x", "customers",
         lambda r: (_customer(r, last_name={"oops": 1}, email="wrong.type@example.com"), "last_name")),
]
