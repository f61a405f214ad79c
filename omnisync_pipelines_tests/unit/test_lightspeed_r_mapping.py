"""R-Series records as the API prints them (XML-shaped: strings, one child an object, several a
list, none "") mapped to canonical records; a record that cannot be mapped is a Rejection naming
its field, never a crash."""

from __future__ import annotations

from omnisync_pipelines.canonical.models import Rejection
from omnisync_pipelines.connectors.lightspeed_r import mapping, sales_mapping, shapes

ITEM = {"itemID": "47", "systemSku": "210000000047", "customSku": "TEE-S", "upc": "", "ean": "4006381333931",
        "description": "Tee S", "archived": "false", "itemMatrixID": "3", "taxClassID": "1", "defaultCost": "7.5",
        "timeStamp": "2024-05-01T10:00:00+00:00",
        "Prices": {"ItemPrice": [{"amount": "19.99", "useTypeID": "1", "useType": "Default"},
                                 {"amount": "17.5", "useTypeID": "4", "useType": "Berlin"}]}}
SALE = {"saleID": "277", "ticketNumber": "220000000277", "completed": "true", "voided": "false",
        "completeTime": "2024-05-01T10:00:00+00:00", "updatetime": "2024-05-01T10:00:05+00:00",
        "referenceNumber": "", "referenceNumberSource": "", "total": "21.48", "customerID": "8", "shopID": "1",
        "shipToID": "0",
        "SaleLines": {"SaleLine": {"saleLineID": "275", "itemID": "47", "unitQuantity": "1", "unitPrice": "19.99",
                                   "discountAmount": "0", "tax": "true", "tax1Rate": "0.0745", "tax2Rate": "0",
                                   "parentSaleLineID": "0", "calcTotal": "21.48", "calcTax1": "1.49"}},
        "SalePayments": {"SalePayment": {"salePaymentID": "170", "amount": "21.48", "paymentTypeID": "1",
                                         "PaymentType": {"paymentTypeID": "1", "name": "Cash", "type": "cash"}}}}


def test_xml_shaped_relations_read_the_same_with_one_several_or_no_children():
    assert shapes.many({"ItemShop": {"qoh": "3"}}, "ItemShop") == [{"qoh": "3"}]
    assert len(shapes.many({"ItemShop": [{"qoh": "3"}, {"qoh": "1"}]}, "ItemShop")) == 2
    assert shapes.many("", "ItemShop") == [] and shapes.many(None, "ItemShop") == []
    assert (shapes.integer("3"), shapes.flag("true"), shapes.ident("0"), shapes.decimal("")) == (3, True, None, None)


def test_an_item_is_a_catalog_row_with_its_matrix_and_a_store_price_for_a_shop_on_its_level():
    item = mapping.map_item(ITEM, "EUR")
    assert (item.sku, item.product_key, item.barcode, item.tax_category, item.supply_price) == (
        "TEE-S", "matrix:3", "4006381333931", "1", 750)
    prices = mapping.map_item_prices(ITEM, ["EUR"], {"1": ("berlin", 4, "EUR"), "2": ("london", 1, "GBP")})
    assert [(p.location_key, p.amount) for p in prices] == [(None, 1999), ("berlin", 1750)]


def test_an_item_without_custom_sku_or_with_a_price_finer_than_the_currency_is_rejected():
    no_sku = mapping.map_item({**ITEM, "customSku": " "})
    assert isinstance(no_sku, Rejection) and (no_sku.field, no_sku.record_ref) == ("customSku", "47")
    fine = mapping.map_item_prices({**ITEM, "Prices": {"ItemPrice": {"amount": "19.995", "useTypeID": "1"}}}, ["EUR"], {})
    assert isinstance(fine, Rejection) and fine.field == "Prices.amount"


def test_units_on_layaway_are_the_online_orders_and_leave_the_count_omnisync_mirrors():
    row = {"itemShopID": "163", "itemID": "47", "shopID": "1", "qoh": "3", "onLayaway": "1",
           "timeStamp": "2024-05-01T10:00:00+00:00"}
    level = mapping.map_item_shop(row, sku_of={"47": "TEE-S"}, location_map={"1": "berlin"})
    assert (level.on_hand, level.reserved, level.available, level.system_id) == (2, 1, 2, "163")
    later = mapping.map_item_shop({**row, "timeStamp": "2024-05-01T10:00:01+00:00"}, sku_of={"47": "TEE-S"},
                                  location_map={"1": "berlin"})
    assert later.system_version > level.system_version
    unmapped = mapping.map_item_shop({**row, "shopID": "9"}, sku_of={"47": "TEE-S"}, location_map={"1": "berlin"})
    assert isinstance(unmapped, Rejection) and unmapped.field == "shopID"


def test_inventory_log_reasons_become_movement_kinds():
    def kind(reason, **refs):
        log = {"inventoryLogID": "9", "itemID": "47", "shopID": "1", "qohChange": "-1", "reason": reason,
               "createTime": "2024-05-01T10:00:00+00:00", "saleID": "0", "orderID": "0", **refs}
        moved = mapping.map_inventory_log(log, sku_of={"47": "TEE-S"}, location_map={"1": "berlin"})
        return moved.kind, moved.source_ref

    assert kind("RemoveForTransaction", saleID="5") == ("sale", "sale:5")
    assert kind("RefundAddInventory", saleID="6") == ("return", "sale:6")
    assert kind("RemoveForTransfer", transferID="2") == ("transfer_out", "transfer:2")
    assert kind("ManualQuantityAdjustment") == ("adjustment", "log:9")
    assert kind("ItemCreated") == ("level_change", "log:9")


def test_a_till_sale_maps_to_an_order_with_its_tax_and_cash_payment():
    order, lines, payments = sales_mapping.map_sale(SALE, sku_of={"47": "TEE-S"}, location_map={"1": "london"},
                                                    currency="GBP", email_of={"8": "ann@example.com"},
                                                    tax_inclusive=False)
    assert (order.order_number, order.total_gross, order.total_tax, order.customer_email) == (
        "LSR-220000000277", 2148, 149, "ann@example.com")
    assert [(line.unit_price, line.total, line.tax) for line in lines] == [(2148, 2148, 149)]
    assert [(p.method, p.amount) for p in payments] == [("cash", 2148)]


def test_an_unknown_tender_is_rejected_naming_the_payments():
    odd = {**SALE, "SalePayments": {"SalePayment": {**SALE["SalePayments"]["SalePayment"],
                                                    "PaymentType": {"name": "Bitcoin", "type": "user defined"}}}}
    rejected = sales_mapping.map_sale(odd, sku_of={"47": "TEE-S"}, location_map={"1": "london"}, currency="GBP")
    assert isinstance(rejected, Rejection) and rejected.field == "SalePayments"
    mapped = sales_mapping.map_sale(odd, sku_of={"47": "TEE-S"}, location_map={"1": "london"}, currency="GBP",
                                    tender_map={"bitcoin": "other"})
    assert mapped[2][0].method == "other"


def test_a_till_refund_of_a_web_order_points_at_the_order_number_and_keeps_the_reason():
    refund = {**SALE, "saleID": "300", "total": "-21.48", "referenceNumber": "WEB-1001",
              "referenceNumberSource": "commercetools",
              "SaleLines": {"SaleLine": {**SALE["SaleLines"]["SaleLine"], "saleLineID": "301", "unitQuantity": "-1",
                                         "calcTotal": "-21.48", "calcTax1": "-1.49", "Note": {"note": "damaged"}}},
              "SalePayments": {"SalePayment": {**SALE["SalePayments"]["SalePayment"], "amount": "-21.48"}}}
    assert sales_mapping.is_return(refund) and not sales_mapping.is_store_order(refund)
    ret, lines = sales_mapping.map_return(refund, sku_of={"47": "TEE-S"}, location_map={"1": "london"}, currency="GBP")
    assert (ret.original_order_ref, ret.refund_total, ret.reason_code) == ("WEB-1001", 2148, "damaged")
    assert [(line.quantity, line.refund_amount) for line in lines] == [(1, 2148)]


def test_open_sales_omnisync_created_for_pickup_are_not_store_orders():
    assert not sales_mapping.is_store_order({**SALE, "referenceNumberSource": "omnisync"})
    assert not sales_mapping.is_store_order({**SALE, "voided": "true"})


def test_customer_keys_come_from_the_custom_fields():
    raw = {"customerID": "11", "firstName": "Ann", "lastName": "Lee", "timeStamp": "2024-05-01T10:00:00+00:00",
           "Contact": {"noEmail": "false", "Emails": {"ContactEmail": {"address": " Ann@Example.com", "useType": "Primary"}},
                       "Phones": ""},
           "CustomFieldValues": {"CustomFieldValue": [{"name": "External ID", "value": "C-9"},
                                                      {"name": "Loyalty ID", "value": ""}]}}
    customer = mapping.map_customer(raw)
    assert (customer.email, customer.external_id, customer.loyalty_id, customer.phone, customer.consent_marketing) == (
        "ann@example.com", "C-9", None, None, True)
    bad = mapping.map_customer({**raw, "Contact": {"Emails": {"ContactEmail": {"address": "not an email"}}}})
    assert isinstance(bad, Rejection) and bad.field == "Contact.Emails"
