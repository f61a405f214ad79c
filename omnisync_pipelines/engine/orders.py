"""Store sales -> commercetools orders: validate the batch, then import each sale exactly once.

Per sale: the ledger records the intent (`retrying`) before any write and `applied` after the order
and its payments are in place. Every write is idempotent on a key derived from the POS sale, so a
retry after a crash or a lost answer finds what the last attempt left: the order by its derived
`orderNumber` (`import_order` answers `already_applied`), each payment by its key, and `addPayment`
is only sent for payments the order does not reference yet. The sale's stock is moved by the stock
flow (the POS count), so orders are imported with `inventoryMode: None`, never deducting twice.
A sale changed at the POS after its import gets a new ledger key but finds its order already there:
imported orders are not rewritten.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import Order, OrderChannel, OrderLine, Payment, Rejection
from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient
from omnisync_pipelines.connectors.commercetools.errors import is_duplicate_of
from omnisync_pipelines.connectors.commercetools.settings import ORDER_TYPE_KEY
from omnisync_pipelines.engine.order_drafts import (
    LINE_TYPE_DRAFT,
    LINE_TYPE_KEY,
    ROUNDING_FIELD_DRAFT,
    OrderSyncOptions,
    StoreRef,
    add_payment_actions,
    charge_transaction,
    order_import_draft,
    payment_key,
    payment_method_name,
)
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.engine.stock_push import RECORD_LEVEL_STATUSES, SYSTEMIC_STATUSES, SystemicSyncError
from omnisync_pipelines.rest.errors import ApiError, BadRequest
from omnisync_pipelines.rest.redact import redact_body
from omnisync_pipelines.store.ops import OpsStore

TARGET = "commercetools"
CustomerResolver = Callable[[str], str | None]  # POS customer id -> commercetools customer id / loyalty id
LOYALTY_FIELD = "loyaltyId"  # on the order type: the POS customer's loyalty id, for points credited online
LOYALTY_FIELD_DRAFT = {"name": LOYALTY_FIELD, "label": {"en": LOYALTY_FIELD}, "required": False,
                       "type": {"name": "String"}, "inputHint": "SingleLine"}


def orders_flow(pos_system: str) -> str:
    return f"orders_{pos_system}_to_commercetools"


@dataclass(frozen=True)
class StoreSale:
    order: Order
    lines: list[OrderLine]
    payments: list[Payment]

    def payload(self) -> str:
        rows = {"order": self.order.to_row(), "lines": [r.to_row() for r in self.lines],
                "payments": [r.to_row() for r in self.payments]}
        return redact_body(rows, max_chars=20_000) or ""


def sale_key(order: Order, flow: str) -> str:
    version = (order.updated_at or order.created_at).isoformat()
    return idempotency_key(order.system, order.order_id, version, flow)


# validate ------------------------------------------------------------------------------------


def group_sales(orders: Iterable[Order], lines: Iterable[OrderLine], payments: Iterable[Payment]) -> list[StoreSale]:
    """Store-channel orders with their lines and payments; other channels are not this flow's."""
    lines_of: dict[str, list[OrderLine]] = defaultdict(list)
    payments_of: dict[str, list[Payment]] = defaultdict(list)
    for line in lines:
        lines_of[line.order_id].append(line)
    for payment in payments:
        payments_of[payment.order_id].append(payment)
    return [
        StoreSale(o, lines_of.get(o.order_id, []), payments_of.get(o.order_id, []))
        for o in orders
        if o.channel == OrderChannel.STORE.value
    ]


def sale_problems(sale: StoreSale, stores: Mapping[str, StoreRef]) -> list[tuple[str, str]]:
    """(field, reason) for every reason this sale cannot be imported; empty when it can."""
    order, lines, payments = sale.order, sale.lines, sale.payments
    problems: list[tuple[str, str]] = []
    if order.location_key is None or order.location_key not in stores:
        problems.append(("location_key", f"location {order.location_key!r} has no commercetools store/channel"))
    if not lines:
        problems.append(("lines", "sale without lines"))
    for line in lines:
        if line.quantity <= 0:
            problems.append(("quantity", f"line {line.line_id} ({line.sku}): quantity {line.quantity} on a sale line"))
        elif line.unit_price * line.quantity - line.discount != line.total:
            problems.append(("lines", f"line {line.line_id} ({line.sku}): {line.quantity} x {line.unit_price} - "
                                      f"{line.discount} discount != line total {line.total}"))
    line_sum = sum(line.total for line in lines)
    if lines and line_sum != order.total_gross:
        problems.append(("total_gross", f"lines add up to {line_sum}, order total is {order.total_gross} "
                                        f"(difference {line_sum - order.total_gross} minor units)"))
    if lines and sum(line.tax for line in lines) != order.total_tax:
        problems.append(("total_tax", f"line taxes add up to {sum(line.tax for line in lines)}, "
                                      f"order tax is {order.total_tax}"))
    foreign = sorted({p.currency for p in payments} - {order.currency})
    if foreign:
        problems.append(("currency", f"payments in {', '.join(foreign)} on an order in {order.currency}"))
    paid = sum(p.amount for p in payments)
    if any(p.amount < 0 for p in payments):
        problems.append(("payments", "negative tender on a sale (refunds are returns)"))
    elif paid != order.total_gross:
        problems.append(("payments", f"payments add up to {paid}, order total is {order.total_gross} "
                                     f"(difference {paid - order.total_gross} minor units)"))
    return problems


def validate_store_sales(
    sales: Iterable[StoreSale], stores: Mapping[str, StoreRef]
) -> tuple[list[StoreSale], list[Rejection]]:
    valid: list[StoreSale] = []
    rejected: list[Rejection] = []
    for sale in sales:
        problems = sale_problems(sale, stores)
        if not problems:
            valid.append(sale)
            continue
        payload = sale.payload()
        rejected.extend(
            Rejection(sale.order.system, "orders", sale.order.order_id, field, reason, payload)
            for field, reason in problems
        )
    return valid, rejected


# push ----------------------------------------------------------------------------------------


async def ensure_order_types(client: CommercetoolsClient) -> None:
    """The connector's types plus the line type that carries list price and discount, and the
    order type's loyalty and rounding fields (added to an order type created before they existed)."""
    type_ids = await client.ensure_types()
    if await client.get_by_key("types", LINE_TYPE_KEY) is None:
        try:
            await client.create("types", LINE_TYPE_DRAFT)
        except BadRequest as exc:
            if not is_duplicate_of(exc, "key"):
                raise
    try:
        await client.update_with_retry("types", type_ids[ORDER_TYPE_KEY], _add_order_fields)
    except BadRequest as exc:  # added concurrently by another run
        if "DuplicateFieldDefinition" not in getattr(exc, "codes", []):
            raise


def _add_order_fields(order_type: dict) -> list[dict]:
    have = {d["name"] for d in order_type.get("fieldDefinitions") or []}
    return [{"action": "addFieldDefinition", "fieldDefinition": draft}
            for draft in (LOYALTY_FIELD_DRAFT, ROUNDING_FIELD_DRAFT) if draft["name"] not in have]


@dataclass
class SalesOutcome:
    statistics: SyncStatistics
    rejections: list[Rejection]  # validation and record-level refusals of this run


async def sync_store_sales(
    orders: Iterable[Order],
    lines: Iterable[OrderLine],
    payments: Iterable[Payment],
    client: CommercetoolsClient,
    ops: OpsStore,
    *,
    pos_system: str,
    stores: Mapping[str, StoreRef],
    customers: CustomerResolver = lambda _ref: None,
    loyalty: CustomerResolver = lambda _ref: None,
    options: OrderSyncOptions = OrderSyncOptions(),
) -> SalesOutcome:
    """Validate one batch, record its rejections, import the valid sales (validate -> resolve -> write).

    customers / loyalty: the commercetools customer id and the loyalty id of a POS customer id
    (`sale_customers.SaleCustomers`); a sale whose customer resolves to None is a guest order."""
    flow = orders_flow(pos_system)
    stats = SyncStatistics(flow=flow)
    valid, rejected = validate_store_sales(group_sales(orders, lines, payments), stores)
    rejected_ids = {r.record_ref for r in rejected}
    stats.processed += len(rejected_ids)
    stats.rejected += len(rejected_ids)
    if rejected:
        ops.add_rejections(flow, rejected)
    ops.resolve_rejections(flow, pos_system, [s.order.order_id for s in valid])
    pushed = await push_store_sales(valid, client, ops, pos_system=pos_system, stores=stores,
                                    customers=customers, loyalty=loyalty, options=options, stats=stats)
    return SalesOutcome(pushed.statistics, rejected + pushed.rejections)


async def push_store_sales(
    sales: list[StoreSale],
    client: CommercetoolsClient,
    ops: OpsStore,
    *,
    pos_system: str,
    stores: Mapping[str, StoreRef],
    customers: CustomerResolver = lambda _ref: None,
    loyalty: CustomerResolver = lambda _ref: None,
    options: OrderSyncOptions = OrderSyncOptions(),
    stats: SyncStatistics | None = None,
) -> SalesOutcome:
    """Import already validated sales; 401/403 raise `SystemicSyncError`."""
    flow = orders_flow(pos_system)
    stats = stats or SyncStatistics(flow=flow)
    refused: list[Rejection] = []
    if sales:
        await ensure_order_types(client)
    statuses = ops.ledger_statuses(sale_key(s.order, flow) for s in sales)
    gate = asyncio.Semaphore(options.concurrency)

    async def push(sale: StoreSale) -> None:
        async with gate:
            key = sale_key(sale.order, flow)
            stats.processed += 1
            prior = statuses.get(key)
            if prior in ("applied", "rejected"):
                stats.already_applied += prior == "applied"
                stats.rejected += prior == "rejected"
                return
            try:
                await _import_sale(sale, key, flow, client, ops, stores, (customers, loyalty), options, stats)
            except ApiError as exc:
                refusal = record_failure(exc, key, flow, sale.order.system, "orders", sale.order.order_id,
                                         "order", sale.payload(), ops, stats)
                if refusal is not None:
                    refused.append(refusal)

    await asyncio.gather(*(push(sale) for sale in sales))
    return SalesOutcome(stats.finish(), refused)


async def _import_sale(sale, key, flow, client, ops, stores, resolvers, options, stats) -> None:
    order = sale.order
    store = stores[order.location_key]
    customers, loyalty = resolvers
    customer_id = customers(order.customer_ref) if order.customer_ref else None
    draft = order_import_draft(order, sale.lines, store, customer_id, options)
    loyalty_id = loyalty(order.customer_ref) if order.customer_ref else None
    if loyalty_id:
        draft["custom"]["fields"][LOYALTY_FIELD] = loyalty_id
    ops.mark_retrying(key, flow=flow, target=TARGET, source=order.system, record_ref=order.order_id,
                      payload={"orderNumber": draft["orderNumber"], "payments": [p.payment_id for p in sale.payments]})
    imported = await client.import_order(draft)
    stats.api_writes += imported.status == "applied"
    payment_ids = []
    for payment in sale.payments:
        created = await client.create_payment(
            key=payment_key(order.system, payment.payment_id),
            currency=payment.currency,
            amount_planned=payment.amount,
            method=payment_method_name(payment, options),
            transactions=[charge_transaction(payment, draft["completedAt"])],
        )
        stats.api_writes += created.status == "applied"
        payment_ids.append(created.id)
    current = imported.resource
    if add_payment_actions(current, payment_ids):
        current = await client.update_with_retry(
            "orders", imported.id, lambda o: add_payment_actions(o, payment_ids), current=current
        )
        stats.api_writes += 1
    ops.mark_applied(key, {"status": imported.status, "order_id": imported.id,
                           "orderNumber": draft["orderNumber"], "payment_ids": payment_ids})
    if imported.status == "already_applied":
        stats.already_applied += 1
    else:
        stats.applied += 1


def record_failure(
    exc: ApiError, key: str, flow: str, system: str, entity: str, record_ref: str, field: str, payload: str,
    ops: OpsStore, stats: SyncStatistics,
) -> Rejection | None:
    """401/403 raise; a record-level refusal becomes a rejection; anything else stays `retrying`."""
    status = getattr(exc, "status", None)
    if status in SYSTEMIC_STATUSES:
        raise SystemicSyncError(f"{flow}: commercetools refused our credentials ({status}): {exc}") from exc
    if status in RECORD_LEVEL_STATUSES:
        reason = f"commercetools refused {entity[:-1]} {record_ref} ({status}): {exc}"
        rejection = Rejection(system, entity, record_ref, field, reason, payload)
        if ops.ledger_status(key) is None:
            ops.mark_retrying(key, flow=flow, target=TARGET, source=system, record_ref=record_ref, payload={})
        ops.mark_failed(key, "rejected", reason)
        ops.add_rejections(flow, [rejection], key=key)
        stats.rejected += 1
        return rejection
    if ops.ledger_status(key) is not None:
        ops.mark_failed(key, "retrying", f"transient, will retry next run: {exc}")
    stats.failed += 1
    stats.errors.append(f"{record_ref}: {exc}")
    return None


def rows_as_records(rows: Iterable[Mapping], record_type: type) -> list:
    """Canonical records from snapshot rows (e.g. `frame.to_dict("records")`)."""
    columns = record_type.columns()
    return [record_type(**{c: _plain(row.get(c)) for c in columns if c in row}) for row in rows]


def _plain(value):
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()  # numpy scalars: httpx's JSON encoder takes only plain Python values
    try:
        if value != value:  # NaN / NaT from pandas
            return None
    except (TypeError, ValueError):
        pass
    return value

