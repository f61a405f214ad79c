"""A delivered X-Series webhook -> a typed event.

Deliveries are `application/x-www-form-urlencoded` POSTs whose field `payload` is a JSON string of
the changed object, in the older 0.9 shapes (a product with `inventory[]` and
`price_book_entries[]`, a sale with `register_sale_products[]`). The event type is not part of the
documented body, so it comes from the route (`/webhooks/lightspeed_x/sale.update`), a `type` form
field when one is present, or, failing both, the shape of the object. Objects may lack `version`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from omnisync_pipelines.connectors.lightspeed_x.settings import SYSTEM
from omnisync_pipelines.connectors.lightspeed_x.writes import WEBHOOK_TYPES
from omnisync_pipelines.store.inbox import InboxEvent
from omnisync_pipelines.webhooks.events import (
    MalformedDelivery,
    canonical,
    digest,
    event_type_of,
    json_object,
    text,
)


class WebhookPayloadError(ValueError):
    pass


@dataclass(frozen=True)
class WebhookEvent:
    type: str  # one of WEBHOOK_TYPES
    object_id: str | None  # the changed object's id (inventory: `<product id>@<outlet id>` if it has none)
    version: int | None
    payload: dict = field(repr=False)
    domain_prefix: str | None = None
    environment: str | None = None

    @property
    def product_id(self) -> str | None:
        if self.type == "product.update":
            return self.object_id
        return self.payload.get("product_id") or (self.payload.get("product") or {}).get("id")

    @property
    def outlet_id(self) -> str | None:
        return self.payload.get("outlet_id") or (self.payload.get("outlet") or {}).get("id")


def form_fields(body: bytes | str | Mapping[str, str]) -> dict[str, str]:
    if isinstance(body, Mapping):
        return {k: (v[0] if isinstance(v, list) else v) for k, v in body.items()}
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def infer_type(payload: dict) -> str | None:
    """Best guess from the 0.9 shapes, for deliveries that name no type."""
    if "register_sale_products" in payload or "line_items" in payload or "invoice_number" in payload:
        return "sale.update"
    if "customer_code" in payload or "customer_group_id" in payload:
        return "customer.update"
    if "register_open_time" in payload or "register_closure_sequence_number" in payload:
        return "register_closure.create"
    if "consignment_date" in payload or payload.get("type") in ("SUPPLIER", "OUTLET", "RETURN", "STOCKTAKE"):
        return "consignment.receive" if payload.get("status") == "RECEIVED" else "consignment.send"
    if ("product_id" in payload or "product" in payload) and ("count" in payload or "inventory_level" in payload):
        return "inventory.update"
    if "sku" in payload or "handle" in payload or "price_book_entries" in payload:
        return "product.update"
    return None


def _version(payload: dict) -> int | None:
    try:
        return int(payload["version"]) if payload.get("version") is not None else None
    except (TypeError, ValueError):
        return None


def _object_id(kind: str, payload: dict) -> str | None:
    if payload.get("id"):
        return str(payload["id"])
    if kind == "inventory.update":
        product = payload.get("product_id") or (payload.get("product") or {}).get("id")
        outlet = payload.get("outlet_id") or (payload.get("outlet") or {}).get("id")
        return f"{product}@{outlet}" if product and outlet else None
    return None


def parse_webhook(body: bytes | str | Mapping[str, str], *, event_type: str | None = None) -> WebhookEvent:
    """Parse a delivery body (raw form bytes/str, or already-parsed form fields).

    `event_type` (e.g. from the route) wins over a `type` form field, which wins over the shape.
    """
    fields = form_fields(body)
    if "payload" not in fields:
        raise WebhookPayloadError("form field 'payload' is missing")
    try:
        payload = json.loads(fields["payload"])
    except json.JSONDecodeError as exc:
        raise WebhookPayloadError(f"form field 'payload' is not JSON: {exc.msg}") from exc
    if not isinstance(payload, dict):
        raise WebhookPayloadError("form field 'payload' is not a JSON object")
    kind = event_type or fields.get("type") or infer_type(payload)
    if kind not in WEBHOOK_TYPES:
        raise WebhookPayloadError(f"unknown or missing webhook type {kind!r}")
    return WebhookEvent(kind, _object_id(kind, payload), _version(payload), payload,
                        fields.get("domain_prefix") or None, fields.get("environment") or None)


def event_from_payload(event_type: str, payload_json: str) -> WebhookEvent:
    """An inbox row (type + the stored `payload` string) -> the typed event."""
    return parse_webhook({"payload": payload_json}, event_type=event_type)


FORM = "application/x-www-form-urlencoded"


def inbox_event(route_type: str | None, media_type: str, body: bytes, headers: Mapping[str, str]) -> InboxEvent:
    """A delivery as the webhook inbox keeps it. X-Series sends no event id, so the id is a hash of
    (type, object id, object `version`, or the canonical payload when there is no version): a
    redelivery of the same change maps to the same id, a new change to a new one. The type comes from
    the route (`/webhooks/lightspeed_x/sale.update`) or the `type` form field; `payload_json` is the
    `payload` field verbatim."""
    if media_type and media_type != FORM:
        raise MalformedDelivery(f"expected {FORM}, got {media_type}")
    try:
        fields = parse_qs(text(body), keep_blank_values=True, max_num_fields=100)
    except ValueError as exc:
        raise MalformedDelivery(f"unreadable form body: {exc}") from None
    if "payload" not in fields:
        raise MalformedDelivery("form field 'payload' is missing")
    raw_payload = fields["payload"][0]
    payload = json_object(raw_payload, "form field 'payload'")
    event_type = event_type_of(route_type or (fields.get("type") or [""])[0], "the route or the 'type' form field")
    object_id = payload.get("id") or _inventory_ref(payload)
    version = payload.get("version")
    basis = ["version", version] if version is not None else ["payload", canonical(payload)]
    return InboxEvent(SYSTEM, digest(SYSTEM, event_type, object_id, *basis), event_type, raw_payload)


def _inventory_ref(payload: dict) -> str | None:
    if payload.get("product_id") and payload.get("outlet_id"):
        return f"{payload['product_id']}@{payload['outlet_id']}"
    return None
