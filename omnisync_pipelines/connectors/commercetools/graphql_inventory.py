"""Stock writes in batches through the commercetools GraphQL API (`POST /{projectKey}/graphql`).

commercetools has no bulk REST inventory endpoint, but one GraphQL document may carry many aliased
`createInventoryEntry` / `updateInventoryEntry` fields, run in order, each with its own outcome. A
write is the same as the REST one (`InventoryApi.apply_stock_delta`): the relative change and the
movement-key stamp in one version-checked mutation. Per write:

- the entry already carries the key: `already_applied`, nothing sent;
- an alias that succeeds: `applied`, as REST answers;
- an alias refused for a concurrent writer (ConcurrentModification, DuplicateField): that write
  alone goes the REST way (re-read, then retry);
- any other alias error: the typed error REST would have raised for it;
- the whole call failing (5xx/429 after retries, network): every write of the chunk gets the error,
  as if each REST call had failed; a request-level error (401/403 stop the run); any other 4xx for
  the whole document: each alias's answer when the body still carries data, else (nothing ran) the
  chunk goes the REST way; a 404 (a commercetools without GraphQL, e.g. a mock): REST from then on.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from omnisync_pipelines.connectors.commercetools.actions import compose, stamp_custom_field, stock_delta
from omnisync_pipelines.connectors.commercetools.errors import duplicate_field
from omnisync_pipelines.connectors.commercetools.graphql import (
    UNTRIED,
    GraphqlEndpoint,
    graphql_action,
    mutation_document,
)
from omnisync_pipelines.connectors.commercetools.inventory import FETCH, StockWriteResult, last_movement
from omnisync_pipelines.connectors.commercetools.settings import INVENTORY_TYPE_KEY, LAST_MOVEMENT_FIELD
from omnisync_pipelines.rest.errors import ApiError, ApiStatusError

if TYPE_CHECKING:
    from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient

RESULT_FIELDS = "id version quantityOnStock"


@dataclass(frozen=True)
class StockWrite:
    sku: str
    channel_id: str
    delta: int
    movement_key: str
    entry: dict | None  # the entry as resolved before the write; None: none exists


# -- the document -----------------------------------------------------------------------------
def _operation(alias: str, write: StockWrite) -> tuple[str, str, dict]:
    """(variable declarations, mutation field, variables) of one write."""
    if write.entry is None:
        draft = {"sku": write.sku, "quantityOnStock": write.delta,
                 "supplyChannel": {"typeId": "channel", "id": write.channel_id},
                 "custom": {"type": {"typeId": "type", "key": INVENTORY_TYPE_KEY},
                            "fields": [{"name": LAST_MOVEMENT_FIELD, "value": json.dumps(write.movement_key)}]}}
        return (f"${alias}: InventoryEntryDraft!", f"{alias}: createInventoryEntry(draft: ${alias}) {{ {RESULT_FIELDS} }}",
                {alias: draft})
    actions = compose(stock_delta(write.delta),
                      stamp_custom_field(write.entry, INVENTORY_TYPE_KEY, LAST_MOVEMENT_FIELD, write.movement_key))
    declarations = f"${alias}Id: String!, ${alias}Version: Long!, ${alias}Actions: [InventoryEntryUpdateAction!]!"
    field = (f"{alias}: updateInventoryEntry(id: ${alias}Id, version: ${alias}Version, actions: ${alias}Actions) "
             f"{{ {RESULT_FIELDS} }}")
    variables = {f"{alias}Id": write.entry["id"], f"{alias}Version": write.entry["version"],
                 f"{alias}Actions": [graphql_action(a) for a in actions]}
    return declarations, field, variables


def stock_document(writes: list[StockWrite]) -> tuple[str, dict]:
    """One mutation with an alias `w<i>` per write, values passed as variables."""
    return mutation_document("StockWrites", [_operation(f"w{index}", write) for index, write in enumerate(writes)])


# -- the answer -------------------------------------------------------------------------------
def _as_result(outcome):
    if isinstance(outcome, dict):
        return StockWriteResult("applied", outcome["id"], outcome["version"], outcome["quantityOnStock"])
    return outcome


def _meets_another_writer(outcome) -> bool:
    return isinstance(outcome, ApiStatusError) and (outcome.status == 409 or duplicate_field(outcome) is not None)


# -- sending ----------------------------------------------------------------------------------
class BatchStockWriter:
    """Sends stock writes one GraphQL document per chunk; REST where GraphQL cannot help."""

    def __init__(self, client: CommercetoolsClient):
        self.client = client
        self.graphql = GraphqlEndpoint(client)

    async def apply(self, writes: list[StockWrite]) -> list[dict | ApiError]:
        results: list = [None] * len(writes)
        pending = []
        for index, write in enumerate(writes):
            if write.entry is not None and last_movement(write.entry) == write.movement_key:
                results[index] = StockWriteResult("already_applied", write.entry["id"], write.entry["version"],
                                                  write.entry["quantityOnStock"]).as_dict()
            else:
                pending.append(index)
        if pending:
            await self.client.ensure_types()
        # creates before updates: a document's text then depends on the two counts only, and the
        # server parses and validates the same few texts over and over (writes are to distinct entries)
        pending.sort(key=lambda index: writes[index].entry is not None)
        size = max(1, self.client.settings.graphql_batch_size)
        chunks = [pending[start : start + size] for start in range(0, len(pending), size)]
        await asyncio.gather(*(self._chunk(chunk, writes, results) for chunk in chunks))
        return results

    async def _chunk(self, chunk: list[int], writes: list[StockWrite], results: list) -> None:
        batch = [writes[i] for i in chunk]
        query, variables = stock_document(batch)
        found = [_as_result(o) for o in await self.graphql.mutate(query, variables, len(batch), "w")]
        await asyncio.gather(*(self._settle(i, writes[i], outcome, results) for i, outcome in zip(chunk, found, strict=True)))

    async def _settle(self, index: int, write: StockWrite, outcome, results: list) -> None:
        if isinstance(outcome, StockWriteResult):
            results[index] = outcome.as_dict()
        elif outcome is UNTRIED or _meets_another_writer(outcome):
            current = write.entry if outcome is UNTRIED else FETCH  # after a conflict: re-read first
            try:
                done = await self.client.apply_stock_delta(write.sku, write.channel_id, write.delta,
                                                           write.movement_key, current=current)
                results[index] = done.as_dict()
            except ApiError as exc:
                results[index] = exc
        else:
            results[index] = outcome
