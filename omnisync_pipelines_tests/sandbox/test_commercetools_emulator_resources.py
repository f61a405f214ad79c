"""commercetools emulator: versions, uniqueness, inventory, orders/returns, payments, projections, customers."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from omnisync_pipelines.sandbox.emulators.commercetools import CommercetoolsEmulator
from omnisync_pipelines_tests.sandbox.ct_http import P, authed, post

EUR = {"currencyCode": "EUR", "centAmount": 1999}


async def world(client: httpx.AsyncClient) -> dict:
    """A channel, a store, an inventory custom type and a published product with two SKUs."""
    channel = await post(client, "/channels", {"key": "store-berlin", "roles": ["InventorySupply",
                                                                              "ProductDistribution"]})
    await post(client, "/stores", {"key": "berlin", "name": {"en": "Berlin"},
                                   "supplyChannels": [{"typeId": "channel", "key": "store-berlin"}]})
    await post(client, "/types", {"key": "omnisync-inventory", "name": {"en": "omnisync"},
                                  "resourceTypeIds": ["inventory-entry"],
                                  "fieldDefinitions": [{"name": "omnisyncLastMovement", "type": {"name": "String"},
                                                        "required": False, "label": {"en": "last"}}]})
    product_type = await post(client, "/product-types", {"key": "tee", "name": "Tee", "description": "",
                                                         "attributes": []})
    product = await post(client, "/products", {
        "key": "tee", "productType": {"typeId": "product-type", "id": product_type["id"]},
        "name": {"en": "Tee"}, "slug": {"en": "tee"}, "publish": True,
        "masterVariant": {"sku": "TEE-S", "prices": [
            {"value": {"currencyCode": "EUR", "centAmount": 1999}},
            {"value": {"currencyCode": "EUR", "centAmount": 1799}, "country": "DE"},
            {"value": {"currencyCode": "EUR", "centAmount": 1599}, "country": "DE",
             "channel": {"typeId": "channel", "id": channel["id"]}},
            {"value": {"currencyCode": "USD", "centAmount": 2500}}]},
        "variants": [{"sku": "TEE-M", "prices": [{"value": {"currencyCode": "EUR", "centAmount": 2099}}]}]})
    return {"channel": channel, "product": product}


@pytest.mark.anyio
async def test_versions_409_and_unknown_action():
    emu = CommercetoolsEmulator()
    emu.set_clock(lambda: datetime(2024, 5, 2, 10, 0, 0, 123000, tzinfo=UTC))
    async with await authed(emu) as client:
        channel = await post(client, "/channels", {"key": "c1"})
        assert channel["version"] == 1 and channel["createdAt"] == "2024-05-02T10:00:00.123Z"
        emu.set_clock(lambda: datetime(2024, 5, 3, tzinfo=UTC))
        updated = await post(client, f"/channels/{channel['id']}",
                             {"version": 1, "actions": [{"action": "changeName", "name": {"en": "B"}}]}, 200)
        assert updated["version"] == 2 and updated["lastModifiedAt"] == "2024-05-03T00:00:00.000Z"
        stale = await post(client, "/channels/key=c1", {"version": 1, "actions": []}, 409)
        assert stale["errors"][0] == {
            "code": "ConcurrentModification", "currentVersion": 2,
            "message": f"Object {channel['id']} has a different version than expected. Expected: 1 - Actual: 2."}
        unknown = await post(client, "/channels/key=c1", {"version": 2, "actions": [{"action": "fly"}]}, 400)
        assert unknown["errors"][0]["code"] == "InvalidInput"
        too_many = await post(client, "/channels/key=c1",
                              {"version": 2, "actions": [{"action": "changeName", "name": {}}] * 501}, 400)
        assert too_many["errors"][0]["code"] == "InvalidInput"
        missing = await client.get(f"{P}/channels/nope")
        assert missing.status_code == 404
        assert missing.json()["message"] == "The Resource with ID 'nope' was not found."
        assert (await client.delete(f"{P}/channels/{channel['id']}", params={"version": 1})).status_code == 409
        assert (await client.delete(f"{P}/channels/{channel['id']}", params={"version": 2})).status_code == 200
        assert (await client.get(f"{P}/channels/key=c1")).status_code == 404


@pytest.mark.anyio
async def test_duplicate_fields():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        w = await world(client)
        sku_clash = await post(client, "/products", {
            "productType": w["product"]["productType"], "name": {"en": "X"}, "slug": {"en": "x"},
            "masterVariant": {"sku": "TEE-M"}}, 400)
        assert sku_clash["errors"][0]["code"] == "DuplicateField"
        assert (sku_clash["errors"][0]["field"], sku_clash["errors"][0]["duplicateValue"]) == ("sku", "TEE-M")
        channel = {"typeId": "channel", "id": w["channel"]["id"]}
        await post(client, "/inventory", {"sku": "TEE-S", "supplyChannel": channel, "quantityOnStock": 1})
        await post(client, "/inventory", {"sku": "TEE-S", "quantityOnStock": 1})  # no channel: a different entry
        inv_clash = await post(client, "/inventory", {"sku": "TEE-S", "supplyChannel": channel,
                                                      "quantityOnStock": 2}, 400)
        assert inv_clash["errors"][0]["code"] == "DuplicateField"
        assert inv_clash["errors"][0]["duplicateValue"] == "TEE-S"
        order = {"orderNumber": "POS-1", "totalPrice": EUR,
                 "lineItems": [{"name": {"en": "Tee"}, "variant": {"sku": "TEE-S"}, "quantity": 1,
                                "price": {"value": EUR}}]}
        await post(client, "/orders/import", order)
        order_clash = await post(client, "/orders/import", order, 400)
        assert order_clash["errors"][0]["field"] == "orderNumber"
        assert order_clash["errors"][0]["duplicateValue"] == "POS-1"
        created = await post(client, "/customers", {"email": "Ann@Example.com", "key": "pos-42"})
        assert created["customer"]["email"] == "Ann@Example.com"
        email_clash = await post(client, "/customers", {"email": "ann@example.COM"}, 400)
        assert email_clash["errors"][0]["code"] == "DuplicateField"
        assert email_clash["errors"][0]["field"] == "email"
        key_clash = await post(client, "/customers", {"email": "bob@example.com", "key": "pos-42"}, 400)
        assert key_clash["errors"][0]["field"] == "key"


@pytest.mark.anyio
async def test_inventory_quantity_and_custom_field_in_one_atomic_request():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        w = await world(client)
        channel = {"typeId": "channel", "key": "store-berlin"}
        entry = await post(client, "/inventory", {"sku": "TEE-S", "supplyChannel": channel, "quantityOnStock": 5})
        assert entry["supplyChannel"] == {"typeId": "channel", "id": w["channel"]["id"]}
        assert entry["availableQuantity"] == 5
        set_type = {"action": "setCustomType", "type": {"typeId": "type", "key": "omnisync-inventory"},
                    "fields": {"omnisyncLastMovement": "m-1"}}
        after = await post(client, f"/inventory/{entry['id']}", {"version": 1, "actions": [
            {"action": "removeQuantity", "quantity": 7}, set_type]}, 200)
        assert (after["quantityOnStock"], after["availableQuantity"], after["version"]) == (-2, -2, 2)
        assert after["custom"]["fields"] == {"omnisyncLastMovement": "m-1"}
        # a failing second action rolls back the first
        bad = await post(client, f"/inventory/{entry['id']}", {"version": 2, "actions": [
            {"action": "addQuantity", "quantity": 10},
            {"action": "setCustomField", "name": "notDefined", "value": "x"}]}, 400)
        assert bad["errors"][0]["code"] == "InvalidField"
        unchanged = (await client.get(f"{P}/inventory/{entry['id']}")).json()
        assert (unchanged["quantityOnStock"], unchanged["version"]) == (-2, 2)
        changed = await post(client, f"/inventory/{entry['id']}", {"version": 2, "actions": [
            {"action": "addQuantity", "quantity": 3}, {"action": "changeQuantity", "quantity": 9},
            {"action": "setCustomField", "name": "omnisyncLastMovement", "value": "m-2"}]}, 200)
        assert (changed["quantityOnStock"], changed["version"]) == (9, 3)
        query = {"where": f'sku="TEE-S" and supplyChannel(id="{w["channel"]["id"]}") '
                          'and custom(fields(omnisyncLastMovement="m-2"))'}
        found = (await client.get(f"{P}/inventory", params=query)).json()
        assert [r["id"] for r in found["results"]] == [entry["id"]]
        messages = (await client.get(f"{P}/messages", params={"where": 'type="InventoryEntryQuantitySet"'})).json()
        assert [(m["oldQuantityOnStock"], m["newQuantityOnStock"]) for m in messages["results"]] == [
            (5, -2), (-2, 1), (1, 9)]
        assert [m["sequenceNumber"] for m in messages["results"]] == [2, 3, 4]


@pytest.mark.anyio
async def test_a_project_without_the_messages_query_keeps_no_messages_but_counts_them():
    emu = CommercetoolsEmulator(messages_enabled=False)
    async with await authed(emu) as client:
        assert (await client.get(P)).json()["messages"] == {"enabled": False, "deleteDaysAfterCreation": 15}
        entry = await post(client, "/inventory", {"sku": "TEE-S", "quantityOnStock": 5})
        changed = await post(client, f"/inventory/{entry['id']}", {
            "version": 1, "actions": [{"action": "changeQuantity", "quantity": 4}]}, 200)
        assert emu.store.sequence_numbers[entry["id"]] == 2  # generated (for subscriptions), not kept
        assert (await client.get(f"{P}/messages")).json()["results"] == []
        assert changed["createdBy"] == changed["lastModifiedBy"] == {"clientId": "sandbox-client"}


@pytest.mark.anyio
async def test_order_import_returns_and_payments():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        w = await world(client)
        unknown = await post(client, "/orders/import", {"totalPrice": EUR, "lineItems": [
            {"name": {"en": "?"}, "variant": {"sku": "NOPE"}, "quantity": 1, "price": {"value": EUR}}]}, 400)
        assert unknown["statusCode"] == 400
        missing_total = await post(client, "/orders/import", {"orderNumber": "X"}, 400)
        assert missing_total["errors"][0]["code"] == "InvalidJsonInput"
        order = await post(client, "/orders/import", {
            "orderNumber": "POS-BER-000123", "customerEmail": "ann@example.com",
            "store": {"typeId": "store", "key": "berlin"}, "orderState": "Complete", "shipmentState": "Delivered",
            "paymentState": "Paid", "completedAt": "2024-05-01T10:00:00.000Z", "totalPrice": EUR,
            "lineItems": [{"name": {"en": "Tee"}, "variant": {"sku": "TEE-S"}, "quantity": 2,
                           "price": {"value": EUR}, "supplyChannel": {"typeId": "channel", "key": "store-berlin"}}]})
        line = order["lineItems"][0]
        assert line["productId"] == w["product"]["id"] and line["variant"]["id"] == 1
        assert line["totalPrice"]["centAmount"] == 3998 and order["store"] == {"typeId": "store", "key": "berlin"}
        assert order["inventoryMode"] == "None" and order["totalPrice"]["fractionDigits"] == 2
        by_number = (await client.get(f"{P}/orders/order-number=POS-BER-000123")).json()
        assert by_number["id"] == order["id"]
        too_many = await post(client, f"/orders/{order['id']}", {"version": 1, "actions": [
            {"action": "addReturnInfo", "items": [{"lineItemId": line["id"], "quantity": 3,
                                                   "shipmentState": "Returned"}]}]}, 400)
        assert too_many["statusCode"] == 400
        returned = await post(client, f"/orders/{order['id']}", {"version": 1, "actions": [
            {"action": "addReturnInfo", "returnDate": "2024-05-03T09:00:00.000Z",
             "items": [{"lineItemId": line["id"], "quantity": 1, "shipmentState": "Returned", "comment": "size"}]}]},
            200)
        item = returned["returnInfo"][0]["items"][0]
        assert (item["type"], item["paymentState"], item["quantity"]) == ("LineItemReturnItem", "Initial", 1)
        payment = await post(client, "/payments", {
            "key": "refund-1", "amountPlanned": EUR,
            "paymentMethodInfo": {"paymentInterface": "pos", "method": "CASH", "name": {"en": "Cash"}},
            "transactions": [{"type": "Charge", "amount": EUR, "state": "Success"}]})
        refunded = await post(client, f"/payments/{payment['id']}", {"version": 1, "actions": [
            {"action": "addTransaction", "transaction": {"type": "Refund", "amount": EUR, "state": "Pending",
                                                         "interactionId": "R-77"}}]}, 200)
        refund = refunded["transactions"][1]
        assert (refund["type"], refund["state"], refund["amount"]["centAmount"]) == ("Refund", "Pending", 1999)
        settled = await post(client, f"/payments/{payment['id']}", {"version": 2, "actions": [
            {"action": "changeTransactionState", "transactionId": refund["id"], "state": "Success"}]}, 200)
        assert settled["transactions"][1]["state"] == "Success"
        final = await post(client, f"/orders/{order['id']}", {"version": 2, "actions": [
            {"action": "setReturnShipmentState", "returnItemId": item["id"], "shipmentState": "BackInStock"},
            {"action": "setReturnPaymentState", "returnItemId": item["id"], "paymentState": "Refunded"},
            {"action": "addPayment", "payment": {"typeId": "payment", "key": "refund-1"}},
            {"action": "changePaymentState", "paymentState": "CreditOwed"}]}, 200)
        final_item = final["returnInfo"][0]["items"][0]
        assert (final_item["shipmentState"], final_item["paymentState"]) == ("BackInStock", "Refunded")
        assert final["paymentInfo"]["payments"] == [{"typeId": "payment", "id": payment["id"]}]
        assert (final["paymentState"], final["version"]) == ("CreditOwed", 3)
        expanded = (await client.get(f"{P}/orders/{order['id']}", params={"expand": "paymentInfo.payments[*]"})).json()
        assert expanded["paymentInfo"]["payments"][0]["obj"]["transactions"][1]["interactionId"] == "R-77"
        listed = (await client.get(f"{P}/orders", params={"expand": "paymentInfo.payments[*]"})).json()["results"]
        assert listed[0]["paymentInfo"]["payments"][0]["obj"]["id"] == payment["id"]
        plain = (await client.get(f"{P}/orders/{order['id']}")).json()
        assert "obj" not in plain["paymentInfo"]["payments"][0]  # expansion never leaks into the stored order
        no_renumber = await post(client, f"/orders/{order['id']}", {"version": 3, "actions": [
            {"action": "setOrderNumber", "orderNumber": "OTHER"}]}, 400)
        assert no_renumber["errors"][0]["code"] == "InvalidOperation"
        imported = (await client.get(f"{P}/messages", params={"where": 'type="OrderImported"'})).json()
        assert imported["results"][0]["resource"] == {"typeId": "order", "id": order["id"]}


@pytest.mark.anyio
async def test_track_only_order_deducts_stock():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        await world(client)
        channel = {"typeId": "channel", "key": "store-berlin"}
        entry = await post(client, "/inventory", {"sku": "TEE-M", "supplyChannel": channel, "quantityOnStock": 4})
        await post(client, "/orders/import", {"totalPrice": EUR, "inventoryMode": "TrackOnly", "lineItems": [
            {"name": {"en": "Tee"}, "variant": {"sku": "TEE-M"}, "quantity": 3, "price": {"value": EUR},
             "supplyChannel": channel}]})
        after = (await client.get(f"{P}/inventory/{entry['id']}")).json()
        assert (after["quantityOnStock"], after["availableQuantity"], after["version"]) == (1, 1, 2)


@pytest.mark.anyio
async def test_product_projections_staged_and_price_selection():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        w = await world(client)
        product = w["product"]
        changed = await post(client, f"/products/{product['id']}", {"version": 1, "actions": [
            {"action": "changeName", "name": {"en": "Tee v2"}},
            {"action": "addVariant", "sku": "TEE-L", "prices": [{"value": EUR}]}]}, 200)
        assert changed["masterData"]["hasStagedChanges"] is True
        current = (await client.get(f"{P}/product-projections/{product['id']}")).json()
        assert current["name"] == {"en": "Tee"} and len(current["variants"]) == 1
        staged = (await client.get(f"{P}/product-projections/{product['id']}", params={"staged": "true"})).json()
        assert staged["name"] == {"en": "Tee v2"} and staged["variants"][1]["sku"] == "TEE-L"
        await post(client, f"/products/{product['id']}", {"version": 2, "actions": [{"action": "publish"}]}, 200)
        by_sku = (await client.get(f"{P}/product-projections", params={"where": 'variants(sku="TEE-L")'})).json()
        assert [r["id"] for r in by_sku["results"]] == [product["id"]]
        ch = w["channel"]["id"]
        cases = [({"priceCurrency": "EUR"}, 1999), ({"priceCurrency": "EUR", "priceCountry": "DE"}, 1799),
                 ({"priceCurrency": "EUR", "priceCountry": "DE", "priceChannel": ch}, 1599),
                 ({"priceCurrency": "USD", "priceCountry": "DE"}, 2500)]
        for params, cents in cases:
            got = (await client.get(f"{P}/product-projections/key=tee", params=params)).json()
            assert got["masterVariant"]["price"]["value"]["centAmount"] == cents, params
        assert "price" not in (await client.get(f"{P}/product-projections/key=tee")).json()["masterVariant"]
        assert (await client.get(f"{P}/product-projections", params={"priceCountry": "DE"})).status_code == 400
        await post(client, "/inventory", {"sku": "TEE-S", "supplyChannel": {"typeId": "channel", "id": ch},
                                          "quantityOnStock": 3})
        avail = (await client.get(f"{P}/product-projections/key=tee")).json()["masterVariant"]["availability"]
        assert avail["channels"][ch]["availableQuantity"] == 3 and avail["channels"][ch]["isOnStock"] is True


@pytest.mark.anyio
async def test_unpublished_products_are_hidden_from_current_projections():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        w = await world(client)
        await post(client, "/products", {"productType": w["product"]["productType"], "key": "draft",
                                         "name": {"en": "D"}, "slug": {"en": "d"}, "masterVariant": {"sku": "D-1"}})
        published = (await client.get(f"{P}/product-projections")).json()
        staged = (await client.get(f"{P}/product-projections", params={"staged": "true"})).json()
        assert [p["key"] for p in published["results"]] == ["tee"]
        assert sorted(p["key"] for p in staged["results"]) == ["draft", "tee"]
        assert (await client.get(f"{P}/product-projections/key=draft")).status_code == 404


@pytest.mark.anyio
async def test_customer_actions_and_no_op_update_keeps_version():
    emu = CommercetoolsEmulator()
    async with await authed(emu) as client:
        created = (await post(client, "/customers", {"email": "ann@example.com", "externalId": "LS-42"}))["customer"]
        updated = await post(client, f"/customers/{created['id']}", {"version": 1, "actions": [
            {"action": "setFirstName", "firstName": "Ann"}, {"action": "setCustomerNumber", "customerNumber": "42"},
            {"action": "addAddress", "address": {"country": "DE", "city": "Berlin"}},
            {"action": "setDateOfBirth", "dateOfBirth": "1990-01-02"}]}, 200)
        assert (updated["firstName"], updated["customerNumber"], updated["version"]) == ("Ann", "42", 2)
        assert updated["addresses"][0]["city"] == "Berlin" and len(updated["addresses"][0]["id"]) == 8
        same = await post(client, f"/customers/{created['id']}", {"version": 2, "actions": [
            {"action": "setFirstName", "firstName": "Ann"}]}, 200)
        assert same["version"] == 2
        found = (await client.get(f"{P}/customers", params={"where": 'externalId="LS-42"'})).json()
        assert found["results"][0]["id"] == created["id"]
