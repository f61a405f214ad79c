"""Pagination strategies, one class per paging style.

Each strategy sets up the first request (`first`), reads the items of a page (`items`) and computes
the next request's params from the page (`next`, None at the end). `iterate_pages` drives one over
an `ApiSession`; every `Page` carries its params and response for logging.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx

if TYPE_CHECKING:
    from omnisync_pipelines.rest.session import ApiSession

Params = dict[str, Any]


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    if isinstance(value, tuple):
        return list(value)
    return [value]


class Paginator:
    items_path: tuple[str, ...] = ("results",)

    def first(self, params: Params | None = None) -> Params:
        return dict(params or {})

    def items(self, response_json: Any) -> list:
        found = _dig(response_json, self.items_path)
        if found is None:
            return []
        return found if isinstance(found, list) else [found]

    def next(self, response_json: Any, params: Params) -> Params | None:
        raise NotImplementedError


class OffsetPaginator(Paginator):
    """`limit`/`offset`; stops on a short page, or at `max_offset` (commercetools: 10000)."""

    def __init__(
        self,
        limit: int,
        *,
        limit_param: str = "limit",
        offset_param: str = "offset",
        items_path: tuple[str, ...] = ("results",),
        max_offset: int | None = None,
    ):
        self.limit, self.limit_param, self.offset_param = limit, limit_param, offset_param
        self.items_path, self.max_offset = items_path, max_offset

    def first(self, params: Params | None = None) -> Params:
        return {**(params or {}), self.limit_param: self.limit, self.offset_param: 0}

    def next(self, response_json: Any, params: Params) -> Params | None:
        if len(self.items(response_json)) < self.limit:
            return None
        offset = int(params.get(self.offset_param, 0)) + self.limit
        if self.max_offset is not None and offset > self.max_offset:
            return None
        return {**params, self.offset_param: offset}


class IdCursorPaginator(Paginator):
    """commercetools deep paging: `sort=id asc`, `where=id > "<last id>"`, `withTotal=false`."""

    def __init__(self, limit: int, *, id_field: str = "id", items_path: tuple[str, ...] = ("results",)):
        self.limit, self.id_field, self.items_path = limit, id_field, items_path

    def first(self, params: Params | None = None) -> Params:
        params = dict(params or {})
        params["where"] = _as_list(params.get("where"))
        params.update({"sort": f"{self.id_field} asc", "limit": self.limit, "withTotal": "false"})
        params.pop("offset", None)
        return params

    def next(self, response_json: Any, params: Params) -> Params | None:
        items = self.items(response_json)
        if len(items) < self.limit:
            return None
        last_id = items[-1][self.id_field]
        where = [w for w in _as_list(params.get("where")) if not w.startswith(f"{self.id_field} > ")]
        return {**params, "where": [*where, f'{self.id_field} > "{last_id}"']}


class VersionCursorPaginator(Paginator):
    """X-Series 2.0: `after=<version.max of the previous page>` until a page has no data."""

    def __init__(
        self,
        page_size: int | None = None,
        *,
        after_param: str = "after",
        page_size_param: str = "page_size",
        items_path: tuple[str, ...] = ("data",),
        version_path: tuple[str, ...] = ("version", "max"),
        start_after: int = 0,
    ):
        self.page_size, self.after_param, self.page_size_param = page_size, after_param, page_size_param
        self.items_path, self.version_path, self.start_after = items_path, version_path, start_after

    def first(self, params: Params | None = None) -> Params:
        params = {**(params or {})}
        params.setdefault(self.after_param, self.start_after)
        if self.page_size is not None:
            params[self.page_size_param] = self.page_size
        return params

    def next(self, response_json: Any, params: Params) -> Params | None:
        version = _dig(response_json, self.version_path)
        if not self.items(response_json) or version is None:
            return None
        if int(version) <= int(params.get(self.after_param, 0)):
            return None  # no progress: guard against a server repeating the same page
        return {**params, self.after_param: int(version)}


class NextUrlPaginator(Paginator):
    """R-Series: follow `@attributes.next` verbatim; an empty string ends the list.

    The next URL names the same resource, so its query string becomes the next params.
    """

    def __init__(self, *, next_path: tuple[str, ...] = ("@attributes", "next"), items_path: tuple[str, ...] = ()):
        self.next_path, self.items_path = next_path, items_path

    def next(self, response_json: Any, params: Params) -> Params | None:
        url = _dig(response_json, self.next_path)
        if not url:
            return None
        return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


class PageNumberPaginator(Paginator):
    """Magento `searchCriteria[currentPage]` (1-based) and `searchCriteria[pageSize]`."""

    def __init__(
        self,
        page_size: int,
        *,
        page_param: str = "searchCriteria[currentPage]",
        size_param: str = "searchCriteria[pageSize]",
        items_path: tuple[str, ...] = ("items",),
        total_path: tuple[str, ...] = ("total_count",),
    ):
        self.page_size, self.page_param, self.size_param = page_size, page_param, size_param
        self.items_path, self.total_path = items_path, total_path

    def first(self, params: Params | None = None) -> Params:
        return {**(params or {}), self.page_param: 1, self.size_param: self.page_size}

    def next(self, response_json: Any, params: Params) -> Params | None:
        page = int(params[self.page_param])
        total = _dig(response_json, self.total_path)
        if len(self.items(response_json)) < self.page_size:
            return None
        if total is not None and page * self.page_size >= int(total):
            return None
        return {**params, self.page_param: page + 1}


@dataclass(frozen=True)
class Page:
    items: list
    params: Params
    response: httpx.Response


async def iterate_pages(
    session: ApiSession, path: str, paginator: Paginator, params: Params | None = None, *, method: str = "GET"
) -> AsyncIterator[Page]:
    current: Params | None = paginator.first(params)
    while current is not None:
        response = await session.request(method, path, params=current)
        body = response.json()
        yield Page(paginator.items(body), current, response)
        current = paginator.next(body, current)
