"""Price book entries for the X-Series catalog target: what a SKU's desired prices need in the
outlet (and outlet × customer group) price books, sent as lists.

`POST /api/2.0/price_books/{id}/products` takes `{"data": [entries]}`, at most
`ENTRIES_PER_REQUEST` (100) a request, and answers with a confirmation message only (docs: API
reference "Add the products to a price book"), so the target keeps what it sent instead of reading
it back. A push collects every SKU's entries first and then sends one list per book per 100
entries. When a list is refused as a whole for a record-level reason (400/404/422), its entries are
resent one by one so that one bad entry holds back only its own SKU.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass

from omnisync_pipelines.rest.errors import ApiError

ENTRIES_PER_REQUEST = 100
RECORD_LEVEL = (400, 404, 422)


@dataclass(frozen=True)
class QueuedEntry:
    sku: str
    book_id: str
    body: dict  # {"product_id", "tax_id", "price"} (price tax exclusive)


def chunks(entries: list[QueuedEntry], size: int = ENTRIES_PER_REQUEST) -> list[list[QueuedEntry]]:
    """A book's entries in request-sized lists, one list per `size` entries."""
    return [entries[start:start + size] for start in range(0, len(entries), size)]


class PriceBookSender:
    """Sends queued entries, per book, in lists; records per SKU how many landed or what failed."""

    def __init__(self, client, kept: dict[tuple[str, str], dict]):
        self.client = client
        self.kept = kept  # (book id, product id) -> the entry the account now holds
        self.sent: dict[str, int] = defaultdict(int)  # sku -> entries landed
        self.failed: dict[str, ApiError] = {}

    async def send(self, queued: list[QueuedEntry]) -> None:
        by_book: dict[str, list[QueuedEntry]] = defaultdict(list)
        for entry in queued:
            by_book[entry.book_id].append(entry)
        await asyncio.gather(*(self._send(book_id, chunk) for book_id, entries in by_book.items()
                               for chunk in chunks(entries)))

    async def _send(self, book_id: str, chunk: list[QueuedEntry]) -> None:
        try:
            await self.client.save_price_book_entries(book_id, [e.body for e in chunk])
        except ApiError as exc:
            if len(chunk) > 1 and getattr(exc, "status", None) in RECORD_LEVEL:
                for entry in chunk:  # find the one the API refuses; the others still land
                    await self._send(book_id, [entry])
                return
            for entry in chunk:
                self.failed[entry.sku] = exc
            return
        for entry in chunk:
            self.kept[(book_id, entry.body["product_id"])] = {**entry.body, "price_book_id": book_id}
            self.sent[entry.sku] += 1
