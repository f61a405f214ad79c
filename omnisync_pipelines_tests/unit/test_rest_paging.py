"""Paginators: each style sets up the first request, reads items, and knows when it is done."""

from omnisync_pipelines.rest.paging import (
    IdCursorPaginator,
    NextUrlPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    VersionCursorPaginator,
)


def test_offset_paginator():
    p = OffsetPaginator(2, max_offset=4)
    params = p.first({"where": "x"})
    assert params == {"where": "x", "limit": 2, "offset": 0}
    page = {"results": [{"id": "a"}, {"id": "b"}]}
    params = p.next(page, params)
    assert params["offset"] == 2
    assert p.next(page, {**params, "offset": 4}) is None  # beyond max_offset
    assert p.next({"results": [{"id": "c"}]}, params) is None  # short page


def test_id_cursor_paginator():
    p = IdCursorPaginator(2)
    params = p.first({"where": 'sku="A"', "offset": 5})
    assert params == {"where": ['sku="A"'], "sort": "id asc", "limit": 2, "withTotal": "false"}
    params = p.next({"results": [{"id": "a"}, {"id": "b"}]}, params)
    assert params["where"] == ['sku="A"', 'id > "b"']
    params = p.next({"results": [{"id": "c"}, {"id": "d"}]}, params)
    assert params["where"] == ['sku="A"', 'id > "d"']  # the cursor is replaced, not stacked
    assert p.next({"results": [{"id": "e"}]}, params) is None
    assert p.items({"results": []}) == []


def test_version_cursor_paginator():
    p = VersionCursorPaginator(100)
    params = p.first()
    assert params == {"after": 0, "page_size": 100}
    params = p.next({"data": [{"id": 1}], "version": {"min": 5, "max": 9}}, params)
    assert params["after"] == 9
    assert p.next({"data": [], "version": {"min": None, "max": None}}, params) is None
    assert p.next({"data": [{"id": 1}], "version": {"max": 9}}, params) is None  # no progress


def test_next_url_paginator():
    p = NextUrlPaginator(items_path=("Item",))
    body = {"@attributes": {"next": "https://api/x/Item.json?limit=100&after=abc", "previous": ""}, "Item": [{"a": 1}]}
    assert p.items(body) == [{"a": 1}]
    assert p.next(body, {"limit": 100}) == {"limit": "100", "after": "abc"}
    assert p.next({"@attributes": {"next": ""}}, {}) is None
    assert p.items({"@attributes": {"count": "1"}, "Item": {"a": 1}}) == [{"a": 1}]  # a lone object


def test_page_number_paginator():
    p = PageNumberPaginator(2)
    params = p.first()
    assert params == {"searchCriteria[currentPage]": 1, "searchCriteria[pageSize]": 2}
    params = p.next({"items": [1, 2], "total_count": 5}, params)
    assert params["searchCriteria[currentPage]"] == 2
    params = p.next({"items": [3, 4], "total_count": 5}, params)
    assert params["searchCriteria[currentPage]"] == 3
    assert p.next({"items": [5], "total_count": 5}, params) is None
    assert p.next({"items": [1, 2], "total_count": 4}, {**params, "searchCriteria[currentPage]": 2}) is None
