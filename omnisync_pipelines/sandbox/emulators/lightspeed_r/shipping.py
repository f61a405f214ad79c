"""ShipTo: the shipment record of a ship-from-store sale (shipto.md is read-only, so it is written
nested in a Sale POST/PUT body, as sale.md's `ShipTo (object)` attribute allows), with its address
kept as the record's Contact."""

from __future__ import annotations

from omnisync_pipelines.sandbox.emulators.lightspeed_r.store import Store
from omnisync_pipelines.sandbox.emulators.lightspeed_r.writes import typed
from omnisync_pipelines.sandbox.emulators.lightspeed_r.xmljson import unwrap


def ship_to(store: Store, body: dict, sale: dict) -> dict:
    """The shipment record of a sale, written nested in a Sale body (shipto.md is read-only)."""
    given = body["ShipTo"]
    row = store.tables["ShipTo"].get(int(sale.get("shipToID") or 0))
    if row is None:
        row = store.insert("ShipTo", {"shipped": False, "shipNote": "", "firstName": "", "lastName": "", "company": "",
                                      "customerID": sale["customerID"], "saleID": sale["saleID"]})
    for key in ("shipNote", "firstName", "lastName", "company"):
        if key in given:
            row[key] = str(given[key])
    if "shipped" in given:
        row["shipped"] = typed(False, given["shipped"])
    if isinstance(given.get("Contact"), dict):
        address = unwrap(given["Contact"].get("Addresses"), "ContactAddress")
        store.contacts[("ShipTo", row["shipToID"])] = {
            "custom": "", "noEmail": False, "noPhone": False, "noMail": False,
            "Addresses": [{k: str(v) for k, v in a.items()} for a in address], "Phones": [], "Emails": [],
            "Websites": [], "timeStamp": store.now()}
    store.touch(row)
    return row
