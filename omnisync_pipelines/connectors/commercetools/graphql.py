"""What every batched GraphQL write shares (`graphql_inventory.py`, `graphql_customers.py`): REST update
actions in their GraphQL input shape, one aliased mutation document per chunk, and each alias's error
as the typed error REST raises for the same code.

One document may carry many aliased root mutation fields; they run in order, each with its own
outcome (`data.<alias>` or an error whose `path` is `[alias]`). A 404 for the whole request means a
commercetools (or mock) without `/graphql`: the writers go REST from then on.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from omnisync_pipelines.connectors.commercetools.actions import Action
from omnisync_pipelines.connectors.commercetools.settings import SYSTEM
from omnisync_pipelines.rest.errors import (
    ApiError,
    ApiStatusError,
    NotFound,
    error_class_for,
)

if TYPE_CHECKING:
    from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient

BAD_REQUEST_CODES = frozenset({
    "InvalidInput", "InvalidOperation", "InvalidField", "RequiredField", "DuplicateField", "InvalidJsonInput",
    "ReferencedResourceNotFound", "MissingRoleOnChannel",
})
STATUS_OF_CODE = {"ConcurrentModification": 409, "ResourceNotFound": 404, "insufficient_scope": 403,
                  "invalid_token": 401, **dict.fromkeys(BAD_REQUEST_CODES, 400)}
UNTRIED = object()  # the write was not run: nothing happened to it yet


def graphql_action(action: Action) -> dict:
    """A REST update action as a GraphQL `<Resource>UpdateAction`: one field named after the action;
    custom field values as JSON text."""
    name, body = action["action"], {k: v for k, v in action.items() if k != "action"}
    if name == "setCustomField":
        body = {"name": body["name"], **({"value": json.dumps(body["value"])} if "value" in body else {})}
    elif name == "setCustomType":
        body = {"type": body["type"], "fields": [{"name": k, "value": json.dumps(v)} for k, v in body["fields"].items()]}
    return {name: body}


def mutation_document(name: str, operations: list[tuple[str, str, dict]]) -> tuple[str, dict]:
    """One mutation from (variable declarations, aliased field, variables) per write."""
    declarations = ", ".join(d for d, _, _ in operations)
    fields = "\n  ".join(f for _, f, _ in operations)
    variables = {k: v for _, _, values in operations for k, v in values.items()}
    return f"mutation {name}({declarations}) {{\n  {fields}\n}}", variables


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


def alias_outcomes(body: dict, count: int, url: str, prefix: str) -> list[dict | ApiStatusError]:
    """`data.<prefix><i>` for i < count, or that alias's error."""
    data = body.get("data") or {}
    listed = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    errors = {e["path"][0]: e for e in listed if e.get("path")}
    general = next((e for e in listed if not e.get("path")), None)  # about the request, not one alias
    found: list[dict | ApiStatusError] = []
    for index in range(count):
        alias = f"{prefix}{index}"
        if data.get(alias) is not None:
            found.append(data[alias])
        else:
            found.append(alias_error(errors.get(alias) or general or {"message": f"no result for {alias}", "path": [alias]}, url))
    return found


class GraphqlEndpoint:
    """`POST /{projectKey}/graphql` for one writer: `use` turns False for good on a 404."""

    def __init__(self, client: CommercetoolsClient):
        self.client = client
        self.use = client.settings.graphql_writes

    @property
    def url(self) -> str:
        return f"{self.client.settings.project_url}/graphql"

    async def mutate(self, query: str, variables: dict, count: int, prefix: str) -> list:
        """Each alias's data or error; UNTRIED for all when nothing ran (no GraphQL here, or the
        document refused whole); the call's error for all when the call itself failed."""
        if not self.use:
            return [UNTRIED] * count
        try:
            body = await self.client.call("POST", self.url, json={"query": query, "variables": variables})
        except NotFound:
            self.use = False  # this commercetools (or mock) has no GraphQL endpoint
            return [UNTRIED] * count
        except ApiStatusError as exc:
            if exc.status in (401, 403, 429) or exc.status >= 500:
                return [exc] * count  # auth stops the run; the rest is transient (retried by the client first)
            answer = exc.body if isinstance(exc.body, dict) else {}
            if isinstance(answer.get("data"), dict):  # an error status, yet some aliases ran: take each answer
                return alias_outcomes(answer, count, self.url, prefix)
            return [UNTRIED] * count  # the document was refused whole, before any field ran: REST decides per write
        except ApiError as exc:
            return [exc] * count
        body = body or {}
        if body.get("data") is None and body.get("errors"):
            refused = alias_outcomes(body, count, self.url, prefix)  # nothing ran: the request's own error
            if all(isinstance(o, ApiStatusError) and o.status in (400, 409) for o in refused):
                return [UNTRIED] * count
            return refused
        return alias_outcomes(body, count, self.url, prefix)
