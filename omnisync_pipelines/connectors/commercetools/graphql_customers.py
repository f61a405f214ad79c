"""Customer updates in batches: the current customers read in one query per 100 ids, then one GraphQL
document per chunk of aliased `updateCustomer` mutations, each at the version that read gave.

The sync's snapshot rows carry no version, and a per-customer GET before each update would double the
calls; `where id in (...)` gives version and current fields (the actions are diffs against them) for
a whole batch at once. Per update:

- the customer is not there: None, nothing sent;
- nothing differs: the customer as read, nothing sent;
- an alias that succeeds: the updated customer;
- an alias refused with ConcurrentModification (the shopper edited the account online between read
  and write): that update alone goes the REST way, which re-reads and rebuilds the actions, so the
  online change is kept and ours applied once;
- an alias refused with ResourceNotFound (deleted meanwhile): None;
- any other alias error: the typed error REST would have raised for it;
- nothing ran (no GraphQL here, or the document refused whole): REST from the customer as read;
- the call failing (5xx/429 after retries, network): that error for every update of the chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from omnisync_pipelines.connectors.commercetools.actions import Action
from omnisync_pipelines.connectors.commercetools.graphql import (
    UNTRIED,
    GraphqlEndpoint,
    graphql_action,
    mutation_document,
)
from omnisync_pipelines.connectors.commercetools.predicates import quote
from omnisync_pipelines.rest.errors import ApiError, ApiStatusError

if TYPE_CHECKING:
    from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient

READ_BATCH = 100  # ids per `id in (...)` query: keeps the URL well under common limits
RESULT_FIELDS = ("id version key email firstName lastName externalId createdAt lastModifiedAt "
                 "custom { typeRef { typeId id } customFieldsRaw { name value } }")
BuildActions = Callable[[dict, Mapping[str, Any]], list[Action]]


@dataclass(frozen=True)
class CustomerUpdate:
    customer_id: str
    values: Mapping[str, Any]  # canonical field -> value, as `CustomerTarget.update` takes them


def as_rest(customer: dict) -> dict:
    """A GraphQL `Customer` (the fields of RESULT_FIELDS) in the REST representation."""
    out = {k: v for k, v in customer.items() if k != "custom"}
    custom = customer.get("custom")
    if custom:
        out["custom"] = {"type": custom["typeRef"], "fields": {f["name"]: f["value"] for f in custom["customFieldsRaw"] or []}}
    return out


def _operation(alias: str, current: dict, actions: list[Action]) -> tuple[str, str, dict]:
    declarations = f"${alias}Id: String!, ${alias}Version: Long!, ${alias}Actions: [CustomerUpdateAction!]!"
    field = (f"{alias}: updateCustomer(id: ${alias}Id, version: ${alias}Version, actions: ${alias}Actions) "
             f"{{ {RESULT_FIELDS} }}")
    return declarations, field, {f"{alias}Id": current["id"], f"{alias}Version": current["version"],
                                 f"{alias}Actions": [graphql_action(a) for a in actions]}


class BatchCustomerUpdater:
    """Sends customer updates as GraphQL documents of `graphql_batch_size` aliases; REST where GraphQL cannot help."""

    def __init__(self, client: CommercetoolsClient, build_actions: BuildActions,
                 prepare: Callable[[list[Action]], Awaitable[None]]):
        """build_actions(current, values): the REST actions; prepare(actions): run once before any
        batch that sends them (e.g. create the custom type they reference)."""
        self.client = client
        self.build_actions = build_actions
        self.prepare = prepare
        self.graphql = GraphqlEndpoint(client)

    async def read_current(self, ids: Sequence[str]) -> dict[str, dict]:
        unique = list(dict.fromkeys(ids))
        chunks = [unique[i : i + READ_BATCH] for i in range(0, len(unique), READ_BATCH)]
        pages = await asyncio.gather(*(
            self.client.query("customers", where=[f"id in ({', '.join(quote(i) for i in chunk)})"]) for chunk in chunks))
        return {customer["id"]: customer for page in pages for customer in page}

    async def apply(self, updates: Sequence[CustomerUpdate]) -> list[dict | None | ApiError]:
        """Each update's outcome in order: the customer after it (REST shape), None when it does not
        exist, or the ApiError that refused it."""
        try:
            current = await self.read_current([u.customer_id for u in updates])
        except ApiError as exc:
            return [exc] * len(updates)
        results: list = [None] * len(updates)
        sending: list[tuple[int, dict, list[Action]]] = []
        for index, update in enumerate(updates):
            found = current.get(update.customer_id)
            actions = self.build_actions(found, update.values) if found is not None else []
            results[index] = found
            if actions:
                sending.append((index, found, actions))
        if sending:
            await self.prepare([a for _, _, actions in sending for a in actions])
        size = max(1, self.client.settings.graphql_batch_size)
        await asyncio.gather(*(self._chunk(sending[i : i + size], updates, results) for i in range(0, len(sending), size)))
        return results

    async def _chunk(self, chunk: list[tuple[int, dict, list[Action]]], updates, results: list) -> None:
        query, variables = mutation_document(
            "CustomerUpdates", [_operation(f"c{n}", current, actions) for n, (_, current, actions) in enumerate(chunk)])
        found = await self.graphql.mutate(query, variables, len(chunk), "c")
        await asyncio.gather(*(self._settle(index, current, updates[index], outcome, results)
                               for (index, current, _), outcome in zip(chunk, found, strict=True)))

    async def _settle(self, index: int, current: dict, update: CustomerUpdate, outcome, results: list) -> None:
        if isinstance(outcome, dict):
            results[index] = as_rest(outcome)
        elif isinstance(outcome, ApiStatusError) and outcome.status == 404:
            results[index] = None
        elif outcome is UNTRIED or (isinstance(outcome, ApiStatusError) and outcome.status == 409):
            start = current if outcome is UNTRIED else None  # after a conflict: re-read first
            try:
                results[index] = await self.client.update_with_retry(
                    "customers", update.customer_id, lambda now: self.build_actions(now, update.values), current=start)
            except ApiError as exc:
                results[index] = exc
        else:
            results[index] = outcome
