"""commercetools emulator: shipping methods and the taxes of an imported web order.

Contract (Order Import API): a line item, custom line item or shippingInfo with a `taxRate` and no
`taxedPrice` gets one derived from the rate (HalfEven); a given `taxedPrice` is stored as sent (a line
item's only together with its `taxRate`); the
shippingInfo's `shippingMethod` / `taxCategory` identifiers become references (400 when unknown)
and its taxed price is also the order's `taxedShippingPrice`.
"""

from __future__ import annotations

import pytest

from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines_tests.sandbox.ct_http import P, authed, post
from omnisync_pipelines_tests.sandbox.test_commercetools_emulator_resources import world

pytestmark = pytest.mark.anyio
DE_19 = {"name": "DE 19%", "amount": 0.19, "includedInPrice": True, "country": "DE"}


def eur(cents: int) -> dict:
    return {"currencyCode": "EUR", "centAmount": cents}


async def dhl(client) -> dict:
    await post(client, "/tax-categories", {"key": "standard", "name": "Standard", "rates": [DE_19]})
    zone = await post(client, "/zones", {"key": "de", "name": "Germany", "locations": [{"country": "DE"}]})
    return await post(client, "/shipping-methods", {
        "key": "dhl", "name": "DHL Standard", "isDefault": False,
        "taxCategory": {"typeId": "tax-category", "key": "standard"},
        "zoneRates": [{"zone": {"typeId": "zone", "id": zone["id"]},
                       "shippingRates": [{"price": eur(495), "freeAbove": eur(10000)}]}]})


def web_order(number: str, shipping_info: dict) -> dict:
    return {"orderNumber": number, "totalPrice": eur(4493), "shippingAddress": {"country": "DE"},
            "lineItems": [{"name": {"en": "Tee"}, "variant": {"sku": "TEE-S"}, "quantity": 2,
                           "price": {"value": eur(1999)}, "taxRate": DE_19}],
            "shippingInfo": shipping_info}


async def test_shipping_method_references_its_tax_category_and_zone_and_has_a_unique_name():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        method = await dhl(client)
        category = (await client.get(f"{P}/tax-categories/key=standard")).json()
        assert method["taxCategory"] == {"typeId": "tax-category", "id": category["id"]}
        assert method["zoneRates"][0]["shippingRates"][0]["price"]["centAmount"] == 495
        assert category["rates"][0]["amount"] == 0.19 and category["rates"][0]["id"]
        same_name = await post(client, "/shipping-methods", {
            "name": "DHL Standard", "isDefault": False, "taxCategory": {"typeId": "tax-category", "key": "standard"},
            "zoneRates": []}, 400)
        assert same_name["errors"][0]["code"] == "DuplicateField" and same_name["errors"][0]["field"] == "name"
        unknown = await post(client, "/shipping-methods", {
            "name": "UPS", "isDefault": False, "taxCategory": {"typeId": "tax-category", "key": "reduced"},
            "zoneRates": []}, 400)
        assert unknown["errors"][0]["code"] == "ReferencedResourceNotFound"


async def test_imported_web_order_derives_line_and_shipping_taxes_from_the_rates():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        await world(client)
        method = await dhl(client)
        order = await post(client, "/orders/import", web_order("WEB-1", {
            "shippingMethodName": "DHL Standard", "price": eur(595), "shippingRate": {"price": eur(595)},
            "discountedPrice": {"value": eur(495)}, "taxRate": DE_19,
            "shippingMethod": {"typeId": "shipping-method", "key": "dhl"},
            "taxCategory": {"typeId": "tax-category", "key": "standard"}}))
        line = order["lineItems"][0]
        assert [line["taxedPrice"][k]["centAmount"] for k in ("totalNet", "totalGross", "totalTax")] == [3360, 3998, 638]
        info = order["shippingInfo"]
        assert info["shippingMethod"] == {"typeId": "shipping-method", "id": method["id"]}
        assert info["taxCategory"]["typeId"] == "tax-category" and info["shippingMethodState"] == "MatchesCart"
        # taxed on what the shopper pays (the discounted price), 19% included: 495 = 416 + 79
        assert [info["taxedPrice"][k]["centAmount"] for k in ("totalNet", "totalGross", "totalTax")] == [416, 495, 79]
        assert order["taxedShippingPrice"] == info["taxedPrice"]

        expanded = (await client.get(f"{P}/orders", params={"expand": "shippingInfo.shippingMethod"})).json()
        assert expanded["results"][0]["shippingInfo"]["shippingMethod"]["obj"]["key"] == "dhl"


async def test_given_taxed_prices_are_stored_as_sent_and_net_rates_are_grossed_up():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        await world(client)
        line_taxes = {"totalNet": eur(3359), "totalGross": eur(3998), "totalTax": eur(640)}  # not checked for sums
        draft = web_order("WEB-1", {"shippingMethodName": "Courier", "price": eur(495), "shippingRate": {"price": eur(495)}})
        draft["lineItems"][0]["taxedPrice"] = line_taxes
        stored = await post(client, "/orders/import", draft)
        assert stored["lineItems"][0]["taxedPrice"]["totalTax"]["centAmount"] == 640
        assert "taxedPrice" not in stored["shippingInfo"] and "taxedShippingPrice" not in stored  # no rate, no taxes
        del draft["lineItems"][0]["taxRate"]
        draft["orderNumber"] = "WEB-1b"
        without_rate = await post(client, "/orders/import", draft, 400)
        assert without_rate["errors"][0]["code"] == "InvalidJsonInput"

        given = {"totalNet": eur(417), "totalGross": eur(495), "totalTax": eur(78)}  # an external tax service's cents
        order = await post(client, "/orders/import", web_order("WEB-2", {
            "shippingMethodName": "Courier", "price": eur(495), "shippingRate": {"price": eur(495)},
            "taxRate": DE_19, "taxedPrice": given}))
        assert {k: order["shippingInfo"]["taxedPrice"][k]["centAmount"] for k in given} == {
            "totalNet": 417, "totalGross": 495, "totalTax": 78}
        assert "shippingMethod" not in order["shippingInfo"]  # a custom method: no reference

        net_rate = {**DE_19, "includedInPrice": False}
        net = await post(client, "/orders/import", web_order("WEB-3", {
            "shippingMethodName": "Courier", "price": eur(416), "shippingRate": {"price": eur(416)},
            "taxRate": net_rate}))
        assert [net["shippingInfo"]["taxedPrice"][k]["centAmount"] for k in ("totalNet", "totalGross", "totalTax")] == [
            416, 495, 79]


@pytest.mark.parametrize(
    ("shipping_info", "code"),
    [
        ({"shippingMethodName": "DHL", "price": eur(495)}, "InvalidJsonInput"),  # shippingRate is required
        ({"shippingMethodName": "DHL", "price": eur(495), "shippingRate": {"price": eur(495)},
          "shippingMethod": {"typeId": "shipping-method", "key": "nope"}}, "ReferencedResourceNotFound"),
    ],
)
async def test_invalid_shipping_info_is_refused(shipping_info, code):
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        await world(client)
        refused = await post(client, "/orders/import", web_order("WEB-4", shipping_info), 400)
        assert refused["errors"][0]["code"] == code
        assert (await client.get(f"{P}/orders/order-number=WEB-4")).status_code == 404
