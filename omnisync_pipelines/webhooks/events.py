"""Each system's webhook delivery, parsed into one `InboxEvent(system, event_id, event_type, payload_json)`.

- lightspeed_x: `application/x-www-form-urlencoded`, field `payload` = JSON string of a 0.9-style
  object (`id`; inventory adds `product_id`, `outlet_id`, `count`). The type comes from the route
  (`/webhooks/lightspeed_x/sale.update`) or the `type` form field. X-Series sends no event id, so
  the id is a hash of (type, object id, object `version`, or the canonical payload when there is no
  version): a redelivery of the same change maps to the same id, a new change to a new one.
  `payload_json` is the `payload` field verbatim.
- newstore: event stream JSON `{tenant, name, published_at, payload}`; id from the event's
  idempotency key + name when present, else a hash of (name, canonical payload). The whole
  envelope is stored.
- commercetools: a Subscription notification (Platform `Message`, change notifications, or
  CloudEvents), bare or inside a Pub/Sub push envelope (`message.data` base64); the Message id
  (at-least-once deliveries repeat it) or a hash of (resource, version) for change notifications.
- lightspeed_r, magento (no documented push; deliveries come from our relays): a JSON object,
  id from `X-Omnisync-Event-Id` / `event_id` / `id`, else a hash of (type, canonical body).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from urllib.parse import parse_qs

from omnisync_pipelines.store.inbox import InboxEvent

__all__ = ["InboxEvent", "MalformedDelivery", "parse_delivery"]

EVENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}")
FORM = "application/x-www-form-urlencoded"
MAX_NATIVE_ID = 250  # the inbox column holds 300; longer ids are hashed


class MalformedDelivery(ValueError):
    """The body is not what the system sends; the message says what is wrong (answered as 400)."""


def parse_delivery(
    system: str, route_type: str | None, content_type: str, body: bytes, headers: Mapping[str, str]
) -> InboxEvent:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if system == "lightspeed_x":
        return _lightspeed_x(route_type, media_type, body)
    document = _json_body(media_type, body)
    if system == "newstore":
        return _newstore(route_type, document, body, headers)
    if system == "commercetools":
        return _commercetools(route_type, document, body)
    return _generic(system, route_type, document, body, headers)


# lightspeed_x ---------------------------------------------------------------------------------------
def _lightspeed_x(route_type: str | None, media_type: str, body: bytes) -> InboxEvent:
    if media_type and media_type != FORM:
        raise MalformedDelivery(f"expected {FORM}, got {media_type}")
    try:
        fields = parse_qs(_text(body), keep_blank_values=True, max_num_fields=100)
    except ValueError as exc:
        raise MalformedDelivery(f"unreadable form body: {exc}") from None
    if "payload" not in fields:
        raise MalformedDelivery("form field 'payload' is missing")
    raw_payload = fields["payload"][0]
    payload = _json_object(raw_payload, "form field 'payload'")
    event_type = _event_type(route_type or (fields.get("type") or [""])[0], "the route or the 'type' form field")
    object_id = payload.get("id") or _inventory_ref(payload)
    version = payload.get("version")
    basis = ["version", version] if version is not None else ["payload", _canonical(payload)]
    event_id = _digest("lightspeed_x", event_type, object_id, *basis)
    return InboxEvent("lightspeed_x", event_id, event_type, raw_payload)


def _inventory_ref(payload: dict) -> str | None:
    if payload.get("product_id") and payload.get("outlet_id"):
        return f"{payload['product_id']}@{payload['outlet_id']}"
    return None


# newstore -------------------------------------------------------------------------------------------
def _newstore(route_type: str | None, envelope: dict, body: bytes, headers: Mapping[str, str]) -> InboxEvent:
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise MalformedDelivery("event stream field 'payload' is missing or not an object")
    name = envelope.get("name") if isinstance(envelope.get("name"), str) else None
    event_type = _event_type(name or route_type, "the event's 'name' or the route")
    key = envelope.get("idempotency_key") or payload.get("idempotency_key") or headers.get("idempotency-key")
    if key:
        event_id = _native_id(f"{event_type}:{key}")
    else:
        event_id = _digest("newstore", event_type, payload.get("id"), _canonical(payload))
    return InboxEvent("newstore", event_id, event_type, _text(body))


# commercetools --------------------------------------------------------------------------------------
def _commercetools(route_type: str | None, document: dict, body: bytes) -> InboxEvent:
    raw = _text(body)
    pubsub = document.get("message")
    if isinstance(pubsub, dict) and "data" in pubsub:
        try:
            raw = base64.b64decode(pubsub["data"], validate=True).decode("utf-8")
        except (binascii.Error, TypeError, UnicodeDecodeError):
            raise MalformedDelivery("Pub/Sub 'message.data' is not base64 UTF-8") from None
        document = _json_object(raw, "Pub/Sub 'message.data'")
    resource = document.get("resource") if isinstance(document.get("resource"), dict) else {}
    if "specversion" in document or document.get("notificationType") == "Message":  # CloudEvents or Platform
        event_type, native = document.get("type"), document.get("id")
    elif str(document.get("notificationType", "")).startswith("Resource"):
        event_type = f"{resource.get('typeId')}.{document['notificationType']}"
        native = _digest("commercetools", event_type, resource.get("id"), document.get("version"))
    else:
        raise MalformedDelivery("not a commercetools subscription notification (no notificationType or specversion)")
    if not native:
        raise MalformedDelivery("commercetools notification has no 'id'")
    event_type = _event_type(event_type if isinstance(event_type, str) else route_type, "the notification 'type'")
    return InboxEvent("commercetools", _native_id(str(native)), event_type, raw)


# lightspeed_r, magento ------------------------------------------------------------------------------
def _generic(system: str, route_type: str | None, document: dict, body: bytes, headers: Mapping[str, str]) -> InboxEvent:
    named = next((document[k] for k in ("type", "event", "name") if isinstance(document.get(k), str)), None)
    event_type = _event_type(route_type or named, "the route or a 'type' field")
    native = headers.get("x-omnisync-event-id") or document.get("event_id") or document.get("id")
    event_id = _native_id(str(native)) if native else _digest(system, event_type, _canonical(document))
    return InboxEvent(system, event_id, event_type, _text(body))


# shared ---------------------------------------------------------------------------------------------
def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedDelivery("body is not UTF-8") from None


def _json_body(media_type: str, body: bytes) -> dict:
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise MalformedDelivery(f"expected a JSON body, got {media_type}")
    return _json_object(_text(body), "body")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _json_object(text: str, what: str) -> dict:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise MalformedDelivery(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise MalformedDelivery(f"{what} is not a JSON object")
    return value


def _event_type(candidate: object, where: str) -> str:
    if not candidate or not isinstance(candidate, str):
        raise MalformedDelivery(f"event type missing: expected in {where}")
    if not EVENT_TYPE.fullmatch(candidate):
        raise MalformedDelivery("event type must be 1-100 of letters, digits and _ . : -")
    return candidate


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(*parts: object) -> str:
    return hashlib.sha256(_canonical(list(parts)).encode()).hexdigest()


def _native_id(value: str) -> str:
    return value if len(value) <= MAX_NATIVE_ID else _digest("long-id", value)
