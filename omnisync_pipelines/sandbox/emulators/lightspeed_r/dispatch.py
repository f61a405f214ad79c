"""Which function answers a write: (resource, verb) -> handler(store, row, body) -> (row, relations to
print with it). `refund` is `POST Sale/{id}/refund`."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r import (
    catalog,
    customers,
    refunds,
    reservations,
    sales,
    writes,
)

SALE_SHOWN = ["SaleLines", "SalePayments"]


def _created(make, shown):
    return lambda store, row, body: (make(store, body), shown)


def _changed(change, shown):
    return lambda store, row, body: (change(store, row, body), shown)


def _removed(remove, shown):
    return lambda store, row, body: (remove(store, row), shown)


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
}
