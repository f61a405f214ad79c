"""The connector's mappings read what the real X-Series API sends: Lightspeed's own example payloads
(the `example`s of the API 2.0 document's responses, the Postman collection's request bodies), read
from ../shared/vendor_api at test time and fed through `mapping`, `sales_mapping` and the drafts.

Each test names what the vendor's example shows that our emulator once did not: tax rates under
`rates[]`, product prices at 5 decimals, price books naming the "All Customers" group, consignment
counts as decimal text (and a line without `count`), a sale's lines and payments as the 2.0 API
gives them, payment types' integer `type_id`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from omnisync_pipelines.canonical.models import Customer, Order, OrderLine
from omnisync_pipelines.connectors.base import Rejection
from omnisync_pipelines.connectors.lightspeed_x import drafts, mapping, sales_mapping
from omnisync_pipelines.connectors.lightspeed_x.customer_target import create_body
from omnisync_pipelines.connectors.lightspeed_x.fulfilment import prepayment_type
from omnisync_pipelines_tests.conformance import lightspeed_x_traffic as lt
from omnisync_pipelines_tests.conformance.vendor_documents import key_paths, postman_requests, vendor_json


def example(path: str, method: str = "get", status: str = "200"):
    """The vendor's response example for an operation (`example`, else the first of `examples`)."""
    content = vendor_json(*lt.DOCUMENT)["paths"][path][method]["responses"][status]["content"]
    for media in content.values():
        if not isinstance(media, dict):
            continue
        if "example" in media:
            return media["example"]
        for named in (media.get("examples") or {}).values():
            return named["value"]
    pytest.fail(f"the vendor document has no example for {method.upper()} {path} {status}")


def postman_body(name: str) -> dict:
    (found,) = [r for r in postman_requests(vendor_json(*lt.POSTMAN)) if r["name"].endswith(name)]
    return found["body"]


def test_tax_rates_are_read_from_the_rates_of_each_tax():
    rates = mapping.tax_rates(example("/taxes")["data"])
    assert sorted(rates.values()) == [Decimal(0), Decimal("0.15"), Decimal("0.2")]  # No Tax, GST, VAT


def test_products_map_to_catalog_items_and_prices_kept_at_five_decimals_charge_in_cents():
    rows = example("/products")["data"] + [example("/products/{product_id}")["data"]]
    items = [mapping.map_product(row, "NZD") for row in rows]
    assert not [i for i in items if isinstance(i, Rejection)], items
    assert [i.sku for i in items] == ["0003", "0005", "0006", "787878"]
    assert items[3].attributes == '{"Color": "Black", "Fabric": "Cotton"}'  # a variant's options
    prices = [mapping.map_product_price(row, "NZD") for row in rows]
    assert not [p for p in prices if isinstance(p, Rejection)], prices
    # price_including_tax 3.02632 in the vendor's example: the till charges 3.03
    assert [p.amount for p in prices[:3]] == [303, 504, 605]


def test_outlets_inventory_and_customers_map():
    outlets = example("/outlets")["data"]
    here = outlets[0]["id"]
    locations = [mapping.map_outlet(o, {here: "akl"}) for o in outlets]
    assert [(loc.location_key, loc.currency) for loc in locations][0] == ("akl", "NZD")
    rows = example("/inventory")["data"]
    level = mapping.map_inventory(rows[0], sku_of={rows[0]["product_id"]: "0003"}, location_map={rows[0]["outlet_id"]: "akl"})
    assert (level.sku, level.location_key, level.on_hand) == ("0003", "akl", 0)
    tony, unnamed = (mapping.map_customer(c) for c in example("/customers")["data"])
    assert (tony.email, tony.external_id, tony.first_name) == ("tony@stark.com", "Tony-N4ZJ", "Anthony")
    assert not isinstance(unnamed, Rejection)


def test_sales_map_to_orders_whose_lines_and_payments_add_up_to_what_the_till_took():
    for sale in example("/sales")["data"]:
        sku_of = {line["product_id"]: f"SKU-{line['product_id'][:4]}" for line in sale["line_items"]}
        mapped = sales_mapping.map_sale(sale, sku_of=sku_of, location_map={sale["outlet_id"]: "akl"}, currency="NZD")
        assert not isinstance(mapped, Rejection), mapped
        order, lines, payments = mapped
        assert isinstance(order, Order) and all(isinstance(x, OrderLine) for x in lines)
        assert sum(x.total for x in lines) == order.total_gross == sum(p.amount for p in payments)
        assert order.total_gross == round((Decimal(str(sale["total_price"])) + Decimal(str(sale["total_tax"]))) * 100)


def test_a_price_book_for_the_all_customers_group_is_a_price_for_everyone():
    books = example("/price_books")["data"]
    assert {b["customer_group"]["group_id"] for b in books} == {mapping.ALL_CUSTOMERS_GROUP_ID}
    assert [mapping.book_customer_group(b) for b in books] == [None, None]
    groups = example("/customer_groups")["data"]
    vip = next(g for g in groups if g["name"] == "VIP")
    assert mapping.book_customer_group({"customer_group_id": vip["id"], "customer_group": vip}) == vip["id"]


def test_consignment_counts_as_decimal_text_and_a_line_without_count_are_read():
    consignment = example("/consignments/{consignment_id}")["data"]
    lines = example("/consignments/{consignment_id}/products")["data"]
    assert {type(x.get("count", "")) for x in lines} == {str}
    moved = sales_mapping.map_consignment_movements(consignment, lines, sku_of={x["product_id"]: "TEE" for x in lines},
                                                    location_map={consignment["outlet_id"]: "akl"})
    assert not isinstance(moved, Rejection), moved
    assert sorted(m.quantity for m in moved) == [10]  # SUPPLIER RECEIVED: the `received` counts, 10 + 0 + 0


def test_payment_types_with_integer_type_ids_pick_the_online_prepayment():
    types = example("/payment_types")["data"]
    assert {type(t["type_id"]) for t in types} == {int}
    chosen = prepayment_type(types, "type:3", None)  # DPS, configured by its global type
    assert chosen["name"] == "DPS"


def test_the_vendors_customer_body_reads_back_and_ours_has_the_fields_it_requires():
    body = postman_body("Customers / Create a new customer")
    read = mapping.map_customer({**body, "id": "c-1"})
    assert (read.external_id, read.email) == ("Tony-AB2W", "tony@starkinc.com")
    ours = create_body(Customer("commercetools", "WEB-1", "wen@example.com"))
    assert {"first_name", "last_name"} <= set(ours) <= set(body)  # CustomerBase requires both names


def test_our_register_sale_uses_only_fields_of_the_vendors_register_sale_body():
    from datetime import UTC, datetime

    vendor = postman_body("Sales / Create or update a register sale")
    order = Order("commercetools", "o-1", "WEB-1", "web", "EUR", 2000, 319, 0, "open",
                  datetime(2024, 5, 1, tzinfo=UTC), None, None, None, "click_and_collect")
    line = OrderLine("commercetools", "o-1", "l-1", "TEE", 1, 2000, 0, 319, 2000)
    ours = drafts.register_sale_payload(order, [line], [], register_id="r", user_id="u", product_id_of={"TEE": "p"},
                                        payment_type_id_of={}, tax_id="t", tax_rate=Decimal("0.19"),
                                        status="AWAITING_PICKUP", prepaid_with="pt")
    assert key_paths(ours) <= key_paths(vendor)
