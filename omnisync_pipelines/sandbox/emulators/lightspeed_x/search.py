"""Lookups by attribute rather than by version: `GET /api/2.0/search` and the product filters of
`GET /api/2.0/products` (API 2.0 spec, "Search" and "List products").

Search takes `type` (sales, products or customers), that type's attributes, `offset` and
`page_size` (at most 1000; asking for more returns 1000). Product attributes may be repeated (any
value matches) and negated with a leading `-`; SKU values must be lowercased. A parameter the spec
does not list for the type is refused with 400, so a client relying on a filter the API would not
apply fails here rather than reading every row. Text matches ignore case (the index holds lowercased
values, as the SKU rule says); ids match exactly.

`/products?sku=` and `?name=` / `?family_name=` (a family by its name) ignore every other parameter.
"""

from __future__ import annotations

from datetime import datetime

from omnisync_pipelines.sandbox.emulators.lightspeed_x.sales import SaleError
from omnisync_pipelines.sandbox.emulators.lightspeed_x.store import Store

MAX_PAGE_SIZE = 1000
COMMON = {"type", "order_by", "order_direction", "page_size", "offset", "_id", "-_id", "deleted"}
PRODUCT_IDS = ("supplier_id", "brand_id", "product_type_id", "variant_parent_id")
ATTRIBUTES = {
    "products": {"sku", *PRODUCT_IDS, "tag_id"},
    "customers": {"customer_code", "email", "first_name", "last_name", "company_name", "mobile", "phone"},
    "sales": {"status", "invoice_number", "customer_id", "user_id", "outlet_id", "date_from", "date_to"},
}
NEGATABLE = {"sku", *PRODUCT_IDS, "tag_id"}


def search(store: Store, params: list[tuple[str, str]]) -> list[dict]:
    kind = next((v for k, v in params if k == "type"), None)
    if kind not in ATTRIBUTES:
        raise SaleError(400, "type must be one of sales, products, customers")
    allowed = COMMON | ATTRIBUTES[kind] | {f"-{a}" for a in ATTRIBUTES[kind] & NEGATABLE}
    unknown = sorted({k for k, _ in params} - allowed)
    if unknown:
        raise SaleError(400, f"unsupported search parameter(s) for {kind}: {', '.join(unknown)}")
    wanted: dict[str, list[str]] = {}
    for key, value in params:
        wanted.setdefault(key, []).append(value)
    try:
        offset = int(wanted.get("offset", ["0"])[0])
        size = max(1, min(int(wanted.get("page_size", ["100"])[0]), MAX_PAGE_SIZE))
    except ValueError as exc:
        raise SaleError(400, "offset and page_size must be integers") from exc
    deleted = wanted.get("deleted", ["false"])[0] == "true"
    rows = [r for r in store.rows[kind].values()
            if (deleted or not r.get("deleted_at")) and _matches(kind, r, wanted)]
    order_by = wanted.get("order_by", [None])[0]
    rows.sort(key=lambda r: (str(r.get(order_by) or "") if order_by else r["version"]),
              reverse=wanted.get("order_direction", ["asc"])[0] == "desc")
    return rows[offset:offset + size]


def _matches(kind: str, row: dict, wanted: dict[str, list[str]]) -> bool:
    for key, values in wanted.items():
        if key in COMMON and key not in ("_id", "-_id"):
            continue
        negated, attribute = key.startswith("-"), key.lstrip("-")
        if attribute in ("date_from", "date_to"):
            when = _moment(row.get("sale_date"))
            bound = _moment(values[0])
            if when is None or bound is None or (when < bound if attribute == "date_from" else when > bound):
                return False
            continue
        hit = any(_equal(kind, attribute, row, v) for v in values)
        if hit == negated:
            return False
    return True


def _equal(kind: str, attribute: str, row: dict, value: str) -> bool:
    if attribute == "_id":
        return row["id"] == value
    if attribute == "tag_id":
        return value in (row.get("tag_ids") or [])
    if attribute == "sku":
        return (row.get("sku") or "").lower() == value  # the spec: values must be lowercased
    if attribute.endswith("_id"):
        return row.get(attribute) == value
    return (row.get(attribute) or "").strip().lower() == value.strip().lower()


def _moment(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def products_by(store: Store, *, sku: str | None = None, name: str | None = None) -> list[dict]:
    """`/products?sku=` (the product with that SKU) or `?name=` (the family with that name), not deleted."""
    return [p for p in store.rows["products"].values() if not p.get("deleted_at")
            and ((sku is not None and p.get("sku") == sku) or (name is not None and p.get("name") == name))]
