"""Which function answers a write: (resource, verb) -> handler(store, row, body) -> (row, relations to
print with it). `refund` is `POST Sale/{id}/refund`; other actions are the `POST {path}/{id}/{action}`
of Inventory/Transfer and InventoryCount."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r import (
    catalog,
    counts,
    customers,
    purchase_orders,
    refunds,
    reservations,
    sales,
    transfers,
    writes,
)

SALE_SHOWN = ["SaleLines", "SalePayments"]


def _created(make, shown):
    return lambda store, row, body: (make(store, body), shown)


def _changed(change, shown):
    return lambda store, row, body: (change(store, row, body), shown)


def _removed(remove, shown):
    return lambda store, row, body: (remove(store, row), shown)


def _noted(write):
    """An Order write prints its Note when it has one (order.md's samples)."""
    def handler(store, row, body):
        row = write(store, body) if row is None else write(store, row, body)
        return row, (["Note"] if row["noteID"] else [])
    return handler


HANDLERS = {
    ("Item", "POST"): _created(writes.new_item, ["ItemShops"]),
    ("Item", "PUT"): _changed(writes.update_item, ["ItemShops"]),
    ("Item", "DELETE"): _removed(writes.archive_item, ["ItemShops"]),
    ("ItemShop", "PUT"): _changed(writes.update_item_shop, []),
    ("Customer", "POST"): _created(writes.new_customer, ["Contact", "CustomFieldValues"]),
    ("Customer", "PUT"): _changed(writes.update_customer, ["Contact", "CustomFieldValues"]),
    ("Customer", "DELETE"): _removed(writes.archive_customer, []),
    ("CustomField", "POST"): _created(customers.new_field, []),
    ("CustomField", "PUT"): _changed(customers.update_field, []),
    ("CustomField", "DELETE"): _removed(customers.archive_field, []),
    ("Sale", "POST"): _created(sales.new_sale, SALE_SHOWN),
    ("Sale", "PUT"): _changed(sales.update_sale, SALE_SHOWN),
    ("Sale", "DELETE"): _removed(sales.archive_sale, []),
    ("Sale", "refund"): _changed(refunds.refund, SALE_SHOWN),
    ("SaleLine", "POST"): _created(reservations.new_reservation, ["InventorySales", "Note"]),
    ("SaleLine", "PUT"): _changed(reservations.update_line, ["InventorySales", "Note"]),
    ("SaleLine", "DELETE"): _removed(reservations.delete_line, []),
    ("Shop", "POST"): _created(catalog.new_shop, []),
    ("Shop", "PUT"): _changed(catalog.update_shop, []),
    ("PriceLevel", "PUT"): _changed(catalog.update_price_level, []),
    ("TaxCategory", "POST"): _created(catalog.new_tax_category, []),
    ("TaxCategory", "PUT"): _changed(catalog.update_tax_category, []),
    ("ItemMatrix", "POST"): _created(catalog.new_matrix, []),
    ("ItemMatrix", "PUT"): _changed(catalog.update_matrix, []),
    ("ItemMatrix", "DELETE"): _removed(catalog.archive_matrix, []),
    ("Category", "POST"): _created(catalog.new_category, []),
    ("Category", "PUT"): _changed(catalog.update_category, []),
    ("Category", "DELETE"): _removed(catalog.delete_category, []),
    ("Order", "POST"): _noted(purchase_orders.new_order),
    ("Order", "PUT"): _noted(purchase_orders.update_order),
    ("Order", "DELETE"): _removed(purchase_orders.archive_order, []),
    ("OrderLine", "POST"): _created(purchase_orders.new_line, []),
    ("OrderLine", "PUT"): _changed(purchase_orders.update_line, []),
    ("OrderLine", "DELETE"): _removed(purchase_orders.delete_line, []),
    ("Transfer", "POST"): _created(transfers.new_transfer, transfers.SHOWN),
    ("Transfer", "PUT"): _changed(transfers.update_transfer, transfers.SHOWN),
    ("Transfer", "Archive"): _changed(transfers.archive, transfers.SHOWN),
    ("Transfer", "Restore"): _changed(transfers.restore, transfers.SHOWN),
    ("Transfer", "Send"): _changed(transfers.send, transfers.SHOWN),
    ("Transfer", "AddItems"): _changed(transfers.add_items, []),
    ("Transfer", "UpdateItems"): _changed(transfers.update_items, []),
    ("Transfer", "DeleteItems"): _changed(transfers.delete_items, []),
    ("InventoryCount", "POST"): _created(counts.new_count, []),
    ("InventoryCount", "PUT"): _changed(counts.update_count, []),
    ("InventoryCount", "DELETE"): _removed(counts.delete_count, []),
    ("InventoryCount", "Reconcile"): _changed(counts.reconcile_count, []),
    ("InventoryCountItem", "POST"): _created(counts.new_item, []),
    ("InventoryCountItem", "PUT"): _changed(counts.update_item, []),
    ("InventoryCountItem", "DELETE"): _removed(counts.delete_item, []),
    ("InventoryCountReconcile", "POST"): _created(counts.reconcile, []),
}
# writes that answer with other rows than the one written: (resource printed, with `@attributes.count`?);
# the TransferItems samples print no @attributes
PRINTED_AS = {("Transfer", "AddItems"): ("TransferItem", False), ("Transfer", "UpdateItems"): ("TransferItem", False),
              ("Transfer", "DeleteItems"): ("TransferItem", False),
              ("InventoryCount", "Reconcile"): ("InventoryCountReconcile", True),
              ("InventoryCountReconcile", "POST"): ("InventoryCountReconcile", True)}
