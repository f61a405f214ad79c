"""R-Series side of the engine's `CustomerTarget`: canonical Customer <-> `Customer` with its `Contact`
and two Customer custom fields, "External ID" and "Loyalty ID" (customer-customfield.md).

Fields: names are `firstName`/`lastName`; email the Primary `Contact.Emails.ContactEmail`; phone the
first `Contact.Phones.ContactPhone` (written as Mobile); marketing consent is `Contact.noEmail`
negated; loyalty id the "Loyalty ID" value. Custom field values travel in the Customer's own
POST/PUT body as `CustomFieldValues.CustomFieldValue[{customFieldID, value}]` and are read with the
`CustomFieldValues` relation, which `load_relations=all` leaves out (relations.md), so it is named.
The two fields are looked up once per target by name and created (type `string`) when missing.

A customer created from another system carries that system's id as its External ID, so `find`
recognises our own earlier create, also one whose answer was lost. `find` searches by email
(`Contact.email`, searching tutorial: dot notation on the Contact relation); a source without an
email, or past `SEARCHES_BEFORE_FULL_READ` finds in one run, reads the account's customers once
instead and keeps them current. Updates read nothing: a PUT carries only the blocks it sets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from omnisync_pipelines.canonical.models import Customer, normalise_email
from omnisync_pipelines.connectors.lightspeed_r.client import LightspeedRClient
from omnisync_pipelines.connectors.lightspeed_r.settings import SYSTEM
from omnisync_pipelines.connectors.lightspeed_r.shapes import flag, many, rows_of, text
from omnisync_pipelines.rest.errors import NotFound

EXTERNAL_ID = "External ID"
LOYALTY_ID = "Loyalty ID"
RELATIONS = ["Contact", "CustomFieldValues"]
SEARCHES_BEFORE_FULL_READ = 25  # a find is one search; a full read is a page per 100 customers


def custom_value(row: dict, name: str) -> str | None:
    for value in many(row.get("CustomFieldValues"), "CustomFieldValue"):
        if text(value.get("name")) == name and not flag(value.get("deleted")):
            return text(value.get("value")).strip() or None
    return None


def emails(row: dict) -> list[tuple[str, str]]:
    """(useType, address) of the customer's Contact, Primary first."""
    found = [(text(e.get("useType")), text(e.get("address")).strip())
             for e in many((row.get("Contact") or {}).get("Emails"), "ContactEmail")]
    return sorted([f for f in found if f[1]], key=lambda f: f[0] != "Primary")


def to_canonical(row: dict) -> Customer:
    contact = row.get("Contact") if isinstance(row.get("Contact"), dict) else {}
    phones = [text(p.get("number")).strip() for p in many(contact.get("Phones"), "ContactPhone")]
    found = emails(row)
    return Customer(
        system=SYSTEM, customer_id=text(row.get("customerID")), email=normalise_email(found[0][1]) if found else None,
        first_name=text(row.get("firstName")).strip() or None, last_name=text(row.get("lastName")).strip() or None,
        phone=next((p for p in phones if p), None), external_id=custom_value(row, EXTERNAL_ID),
        loyalty_id=custom_value(row, LOYALTY_ID),
        consent_marketing=None if not contact else not flag(contact.get("noEmail")),
    )


def customer_body(values: Mapping[str, Any], field_ids: dict[str, int]) -> dict:
    """Canonical field values -> a Customer POST/PUT body (only the fields given)."""
    body: dict[str, Any] = {}
    contact: dict[str, Any] = {}
    custom = []
    for field, value in values.items():
        if field == "first_name":
            body["firstName"] = value or ""
        elif field == "last_name":
            body["lastName"] = value or ""
        elif field == "email":
            contact["Emails"] = {"ContactEmail": [{"address": value, "useType": "Primary"}]} if value else ""
        elif field == "phone":
            contact["Phones"] = {"ContactPhone": [{"number": value, "useType": "Mobile"}]} if value else ""
        elif field == "consent_marketing" and value is not None:
            contact["noEmail"] = not bool(value)
        elif field in ("loyalty_id", "external_id") and value:
            custom.append({"customFieldID": field_ids[LOYALTY_ID if field == "loyalty_id" else EXTERNAL_ID],
                           "value": str(value)})
    if contact:
        body["Contact"] = contact
    if custom:
        body["CustomFieldValues"] = {"CustomFieldValue": custom}
    return body


class LightspeedRCustomers:
    """`CustomerTarget` over a `LightspeedRClient`."""

    system = SYSTEM

    def __init__(self, client: LightspeedRClient):
        self.client = client
        self._field_ids: dict[str, int] | None = None
        self._rows: dict[str, dict] | None = None  # every live customer, once read
        self._finds = 0
        self._lock = asyncio.Lock()

    async def field_ids(self) -> dict[str, int]:
        """customFieldID of "External ID" and "Loyalty ID", created as `string` fields when missing."""
        async with self._lock:
            if self._field_ids is None:
                body = await self.client.call("GET", "Customer/CustomField", params={"archived": "false"})
                ids = {text(f.get("name")): int(text(f.get("customFieldID"))) for f in rows_of(body, "CustomField")}
                for name in (EXTERNAL_ID, LOYALTY_ID):
                    if name not in ids:
                        made = await self.client.call("POST", "Customer/CustomField", json={"name": name, "type": "string"})
                        ids[name] = int(text(rows_of(made, "CustomField")[0].get("customFieldID")))
                self._field_ids = {name: ids[name] for name in (EXTERNAL_ID, LOYALTY_ID)}
        return self._field_ids

    async def _all_customers(self) -> dict[str, dict]:
        async with self._lock:
            if self._rows is None:
                rows = await self.client.rows("Customer", relations=RELATIONS)
                self._rows = {text(r.get("customerID")): r for r in rows}
        return self._rows

    async def _candidates(self, email: str | None) -> list[dict]:
        self._finds += 1
        if self._rows is not None or self._finds > SEARCHES_BEFORE_FULL_READ or not email:
            return list((await self._all_customers()).values())
        return await self.client.rows("Customer", params={"Contact.email": f"~,{email}"}, relations=RELATIONS)

    async def find(self, source: Customer) -> Customer | None:
        email = normalise_email(source.email)
        rows = [r for r in await self._candidates(email) if not flag(r.get("archived"))]
        ours = [r for r in rows if custom_value(r, EXTERNAL_ID) == source.customer_id]
        same_email = [r for r in rows if email and email in {normalise_email(a) for _, a in emails(r)}]
        found = ours or same_email
        return to_canonical(found[0]) if found else None

    async def create(self, source: Customer) -> Customer:
        values = {f: getattr(source, f) for f in ("first_name", "last_name", "email", "phone", "consent_marketing",
                                                  "loyalty_id") if getattr(source, f) is not None}
        body = customer_body({**values, "external_id": source.customer_id}, await self.field_ids())
        row = await self.client.create("Customer", body, relations=RELATIONS)
        self._keep(row)
        return to_canonical(row)

    async def update(self, customer_id: str, values: Mapping[str, Any]) -> Customer | None:
        needs_fields = any(f in values for f in ("loyalty_id", "external_id"))
        body = customer_body(values, await self.field_ids() if needs_fields else {})
        try:
            row = await self.client.update("Customer", customer_id, body, relations=RELATIONS)
        except NotFound:
            return None
        self._keep(row)
        return to_canonical(row)

    def _keep(self, row: dict) -> None:
        if self._rows is not None and row:
            self._rows[text(row.get("customerID"))] = row
