"""The webhook receiver: verify each delivery, store it once in the inbox, answer fast."""

from omnisync_pipelines.webhooks.app import create_webhook_app
from omnisync_pipelines.webhooks.events import InboxEvent, MalformedDelivery, parse_delivery
from omnisync_pipelines.webhooks.signatures import known_systems, secrets_from_env, sign_body

__all__ = [
    "InboxEvent",
    "MalformedDelivery",
    "create_webhook_app",
    "known_systems",
    "parse_delivery",
    "secrets_from_env",
    "sign_body",
]
