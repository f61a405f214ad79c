"""Each system's webhook delivery, parsed into one `InboxEvent(system, event_id, event_type, payload_json)`.

- a registered POS with webhooks: its plugin's own parser (`WebhookSpec.parse`, in its package),
  built from the helpers here.
- event stream JSON (`parse_event_stream`, for a POS plugin whose events come so) `{tenant, name, published_at, payload}`; id from the event's
  idempotency key + name when present, else a hash of (name, canonical payload). The whole
  envelope is stored.
- commercetools: a Subscription notification (Platform `Message`, change notifications, or
  CloudEvents), bare or inside a Pub/Sub push envelope (`message.data` base64); the Message id
  (at-least-once deliveries repeat it) or a hash of (resource, version) for change notifications.
- any other POS (no documented push; deliveries come from our relays): a JSON object, id from `X-Omnisync-Event-Id` / `event_id` / `id`, else a hash of (type, canonical body).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping

from omnisync_pipelines import systems
from omnisync_pipelines.store.inbox import InboxEvent
from omnisync_pipelines.systems import COMMERCETOOLS

__all__ = ["InboxEvent", "MalformedDelivery", "parse_delivery", "parse_event_stream", "parse_relayed"]

EVENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}")
MAX_NATIVE_ID = 250  # the inbox column holds 300; longer ids are hashed


class MalformedDelivery(ValueError):
    """The body is not what the system sends; the message says what is wrong (answered as 400)."""


def parse_delivery(
    system: str, route_type: str | None, content_type: str, body: bytes, headers: Mapping[str, str]
) -> InboxEvent:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if system == COMMERCETOOLS:
        return _commercetools(route_type, json_body(media_type, body), body)
    spec = systems.pos_plugin(system).webhooks
    if spec is not None:
        return spec.parse(route_type, media_type, body, headers)
    return parse_relayed(system, route_type, media_type, body, headers)


# event stream -------------------------------------------------------------------------------------------
def parse_event_stream(system: str, route_type: str | None, media_type: str, body: bytes,
                       headers: Mapping[str, str]) -> InboxEvent:
    envelope = json_body(media_type, body)
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise MalformedDelivery("event stream field 'payload' is missing or not an object")
    name = envelope.get("name") if isinstance(envelope.get("name"), str) else None
    event_type = event_type_of(name or route_type, "the event's 'name' or the route")
    key = envelope.get("idempotency_key") or payload.get("idempotency_key") or headers.get("idempotency-key")
    if key:
        event_id = native_id(f"{event_type}:{key}")
    else:
        event_id = digest(system, event_type, payload.get("id"), canonical(payload))
    return InboxEvent(system, event_id, event_type, text(body))


# commercetools --------------------------------------------------------------------------------------
def _commercetools(route_type: str | None, document: dict, body: bytes) -> InboxEvent:
    raw = text(body)
    pubsub = document.get("message")
    if isinstance(pubsub, dict) and "data" in pubsub:
        try:
            raw = base64.b64decode(pubsub["data"], validate=True).decode("utf-8")
        except (binascii.Error, TypeError, UnicodeDecodeError):
            raise MalformedDelivery("Pub/Sub 'message.data' is not base64 UTF-8") from None
        document = json_object(raw, "Pub/Sub 'message.data'")
    resource = document.get("resource") if isinstance(document.get("resource"), dict) else {}
    if "specversion" in document or document.get("notificationType") == "Message":  # CloudEvents or Platform
        event_type, native = document.get("type"), document.get("id")
    elif str(document.get("notificationType", "")).startswith("Resource"):
        event_type = f"{resource.get('typeId')}.{document['notificationType']}"
        native = digest(COMMERCETOOLS, event_type, resource.get("id"), document.get("version"))
    else:
        raise MalformedDelivery("not a commercetools subscription notification (no notificationType or specversion)")
    if not native:
        raise MalformedDelivery("commercetools notification has no 'id'")
    event_type = event_type_of(event_type if isinstance(event_type, str) else route_type, "the notification 'type'")
    return InboxEvent(COMMERCETOOLS, native_id(str(native)), event_type, raw)


# relayed ----------------------------------------------------------------------------------------------
def parse_relayed(system: str, route_type: str | None, media_type: str, body: bytes,
                  headers: Mapping[str, str]) -> InboxEvent:
    document = json_body(media_type, body)
    named = next((document[k] for k in ("type", "event", "name") if isinstance(document.get(k), str)), None)
    event_type = event_type_of(route_type or named, "the route or a 'type' field")
    native = headers.get("x-omnisync-event-id") or document.get("event_id") or document.get("id")
    event_id = native_id(str(native)) if native else digest(system, event_type, canonical(document))
    return InboxEvent(system, event_id, event_type, text(body))


# shared ---------------------------------------------------------------------------------------------
def text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedDelivery("body is not UTF-8") from None


def json_body(media_type: str, body: bytes) -> dict:
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise MalformedDelivery(f"expected a JSON body, got {media_type}")
    return json_object(text(body), "body")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_object(text: str, what: str) -> dict:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise MalformedDelivery(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise MalformedDelivery(f"{what} is not a JSON object")
    return value


def event_type_of(candidate: object, where: str) -> str:
    if not candidate or not isinstance(candidate, str):
        raise MalformedDelivery(f"event type missing: expected in {where}")
    if not EVENT_TYPE.fullmatch(candidate):
        raise MalformedDelivery("event type must be 1-100 of letters, digits and _ . : -")
    return candidate


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(*parts: object) -> str:
    return hashlib.sha256(canonical(list(parts)).encode()).hexdigest()


def native_id(value: str) -> str:
    return value if len(value) <= MAX_NATIVE_ID else digest("long-id", value)
