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
  as if each REST call had failed; a 400 or 409 for the whole document (nothing ran): the chunk goes
  the REST way; a 404 (a commercetools without GraphQL, e.g. a mock): REST from then on.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from omnisync_pipelines.connectors.commercetools.actions import (
    Action,
    compose,
    stamp_custom_field,
    stock_delta,
)
from omnisync_pipelines.connectors.commercetools.errors import duplicate_field
from omnisync_pipelines.connectors.commercetools.inventory import FETCH, StockWriteResult, last_movement
from omnisync_pipelines.connectors.commercetools.settings import (
    INVENTORY_TYPE_KEY,
    LAST_MOVEMENT_FIELD,
    SYSTEM,
)
from omnisync_pipelines.rest.errors import (
    ApiError,
    ApiStatusError,
    BadRequest,
    Conflict,
    NotFound,
    error_class_for,
)

if TYPE_CHECKING:
    from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient

RESULT_FIELDS = "id version quantityOnStock"
BAD_REQUEST_CODES = frozenset({
    "InvalidInput", "InvalidOperation", "InvalidField", "RequiredField", "DuplicateField", "InvalidJsonInput",
    "ReferencedResourceNotFound", "MissingRoleOnChannel",
})
STATUS_OF_CODE = {"ConcurrentModification": 409, "ResourceNotFound": 404, "insufficient_scope": 403,
                  "invalid_token": 401, **dict.fromkeys(BAD_REQUEST_CODES, 400)}
UNTRIED = object()  # the write was not run: nothing happened to it yet


@dataclass(frozen=True)
class StockWrite:
    sku: str
    channel_id: str
    delta: int
    movement_key: str
    entry: dict | None  # the entry as resolved before the write; None: none exists


# -- the document -----------------------------------------------------------------------------
def graphql_action(action: Action) -> dict:
    """A REST update action as a GraphQL InventoryEntryUpdateAction (one field; custom values as JSON text)."""
    name, body = action["action"], {k: v for k, v in action.items() if k != "action"}
    if name == "setCustomField":
        body = {"name": body["name"], **({"value": json.dumps(body["value"])} if "value" in body else {})}
    elif name == "setCustomType":
        body = {"type": body["type"], "fields": [{"name": k, "value": json.dumps(v)} for k, v in body["fields"].items()]}
    return {name: body}


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
    declarations, fields, variables = [], [], {}
    for index, write in enumerate(writes):
        declaration, field, values = _operation(f"w{index}", write)
        declarations.append(declaration)
        fields.append(field)
        variables.update(values)
    return f"mutation StockWrites({', '.join(declarations)}) {{\n  " + "\n  ".join(fields) + "\n}", variables


# -- the answer -------------------------------------------------------------------------------
def alias_error(error: dict, url: str) -> ApiStatusError:
    """A GraphQL error of one alias as the typed error REST raises for the same code."""
    extensions = error.get("extensions") or {}
    code, message = extensions.get("code"), error.get("message") or "no message"
    status = STATUS_OF_CODE.get(code, 500)  # a code we do not know: transient, retried next push, not rejected
    body = {"statusCode": status, "message": message, "errors": [{**extensions, "message": message}]}
    return error_class_for(status)(
        f"{SYSTEM} POST {url} -> {status} [{code}] at {error.get('path')}: {message}",
        system=SYSTEM, method="POST", url=url, status=status, body=body, codes=[code] if code else [],
    )


def outcomes(body: dict, count: int, url: str) -> list[StockWriteResult | ApiStatusError]:
    data = body.get("data") or {}
    errors = {e["path"][0]: e for e in body.get("errors") or [] if isinstance(e, dict) and e.get("path")}
    found: list[StockWriteResult | ApiStatusError] = []
    for index in range(count):
        alias = f"w{index}"
        entry = data.get(alias)
        if entry is not None:
            found.append(StockWriteResult("applied", entry["id"], entry["version"], entry["quantityOnStock"]))
        else:
            found.append(alias_error(errors.get(alias) or {"message": f"no result for {alias}", "path": [alias]}, url))
    return found


def _meets_another_writer(outcome) -> bool:
    return isinstance(outcome, ApiStatusError) and (outcome.status == 409 or duplicate_field(outcome) is not None)


# -- sending ----------------------------------------------------------------------------------
class BatchStockWriter:
    """Sends stock writes one GraphQL document per chunk; REST where GraphQL cannot help."""

    def __init__(self, client: CommercetoolsClient):
        self.client = client
        self.use_graphql = client.settings.graphql_writes

    @property
    def url(self) -> str:
        return f"{self.client.settings.project_url}/graphql"

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
        size = max(1, self.client.settings.graphql_batch_size)
        chunks = [pending[start : start + size] for start in range(0, len(pending), size)]
        await asyncio.gather(*(self._chunk(chunk, writes, results) for chunk in chunks))
        return results

    async def _chunk(self, chunk: list[int], writes: list[StockWrite], results: list) -> None:
        batch = [writes[i] for i in chunk]
        found = await self._mutate(batch) if self.use_graphql else [UNTRIED] * len(batch)
        await asyncio.gather(*(self._settle(i, writes[i], outcome, results) for i, outcome in zip(chunk, found, strict=True)))

    async def _mutate(self, batch: list[StockWrite]) -> list:
        query, variables = stock_document(batch)
        try:
            body = await self.client.call("POST", self.url, json={"query": query, "variables": variables})
        except NotFound:
            self.use_graphql = False  # this commercetools (or mock) has no GraphQL endpoint
            return [UNTRIED] * len(batch)
        except (BadRequest, Conflict):
            return [UNTRIED] * len(batch)  # the document as a whole was refused before any field ran
        except ApiError as exc:
            return [exc] * len(batch)
        return outcomes(body or {}, len(batch), self.url)

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
