"""Events that reach us by polling: commercetools messages since a persisted cursor, into the inbox.

commercetools keeps Messages (OrderCreated, OrderStateChanged, CustomerCreated, ...) for the
project's retention period; reading them by `lastModifiedAt` from the stored cursor (minus the
client's overlap) and storing each once by its message id gives the same inbox rows a
Subscription would have pushed. The cursor advances to the newest message stored, after the
inserts are committed; the overlap re-reads a few, which the inbox dedupe acknowledges and ignores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from omnisync_pipelines.store.inbox import Inbox, InboxEvent
from omnisync_pipelines.store.ops import OpsStore, now

MESSAGES_CURSOR = "commercetools/messages"
RESOURCE_TYPES = ("order", "customer")  # store fulfilment and customer changes
FIRST_LOOKBACK = timedelta(minutes=5)


@dataclass(frozen=True)
class PollOutcome:
    read: int
    stored: int
    since: str
    cursor: str

    def summary(self) -> str:
        return f"commercetools messages since {self.since}: {self.read} read, {self.stored} new in the inbox; cursor {self.cursor}"


async def poll_commercetools_messages(client, ops: OpsStore, *, page_size: int = 200) -> PollOutcome:
    """`client`: a CommercetoolsClient (its `iter_modified_since`)."""
    since = ops.get_cursor(MESSAGES_CURSOR) or (now() - FIRST_LOOKBACK).isoformat()
    inbox = Inbox(ops)
    read = stored = 0
    newest = since
    async for message in client.iter_modified_since("messages", datetime.fromisoformat(since.replace("Z", "+00:00")),
                                                     page_size=page_size):
        read += 1
        newest = max(newest, message.get("lastModifiedAt") or message.get("createdAt") or newest, key=_instant)
        if (message.get("resource") or {}).get("typeId") not in RESOURCE_TYPES:
            continue
        stored += inbox.add(InboxEvent("commercetools", str(message["id"]), str(message["type"]), json.dumps(message)))
    ops.set_cursor(MESSAGES_CURSOR, newest, {"read": read, "stored": stored, "polled_at": now().isoformat()})
    return PollOutcome(read, stored, since, newest)


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
