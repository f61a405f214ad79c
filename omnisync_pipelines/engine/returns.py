"""POS returns -> commercetools: return info, restock state and refund on the original order, once.

The original order is found, in this order, by the POS sale id (`custom.fields.posSaleId`, an
in-store sale imported by the orders flow), by the derived POS orderNumber at the return's store,
by the reference as an orderNumber, and by the reference as an order id (an online order returned
in store). Push the batch's sales before its returns so a sale returned in the same batch is found.

Each return becomes, idempotently: `addReturnInfo` (items `Returned`, found again by
`returnTrackingId`), an optional restock, a `Refund` transaction with `interactionId` = the POS
return id (on the order's payment, or a new payment when it has none), then the items move to
`BackInStock` (or `Unusable` when not restocked) and `Refunded`.

`restock_via="stock_flow"` (the default for a POS that restocks at the register,
`Capabilities.returns_restock_at_register`): the POS puts a returned item back on the store's count,
the stock flow sees that count go up and pushes it, so applying `addQuantity` here too would count
the unit twice; this flow then only records `BackInStock`. `restock_via="return"` (the default for a
POS whose returns do not move its count): the restock is applied here, once per return line (movement key from the ledger key and the line; an item already
`BackInStock` is the evidence it was applied).

Exchanges are a return plus a new sale; nothing here treats them specially.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from omnisync_pipelines.canonical.keys import idempotency_key
from omnisync_pipelines.canonical.models import Rejection, Return, ReturnLine
from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient
from omnisync_pipelines.connectors.commercetools.mapping import format_timestamp
from omnisync_pipelines.connectors.commercetools.predicates import quote
from omnisync_pipelines.engine.order_drafts import StoreRef, add_payment_actions, pos_order_number, safe_key
from omnisync_pipelines.engine.orders import TARGET, record_failure
from omnisync_pipelines.engine.return_actions import (
    NotReturnable,
    add_return_info,
    items_back_in_stock,
    refund_payment,
    refunded_by,
    return_state_actions,
    tracking_id,
)
from omnisync_pipelines.engine.statistics import SyncStatistics
from omnisync_pipelines.rest.errors import ApiError
from omnisync_pipelines.rest.redact import redact_body
from omnisync_pipelines.store.ops import OpsStore


def returns_flow(pos_system: str) -> str:
    return f"returns_{pos_system}_to_commercetools"


@dataclass(frozen=True)
class ReturnSyncOptions:
    reason_codes: Mapping[str, str] = field(default_factory=dict)  # POS reason -> commercetools reason code
    restock_via: Literal["stock_flow", "return"] = "stock_flow"
    refund_method: str = "store_refund"  # method of the payment created when the order has none
    concurrency: int = 8


@dataclass(frozen=True)
class PosReturn:
    ret: Return
    lines: list[ReturnLine]

    def payload(self) -> str:
        return redact_body({"return": self.ret.to_row(), "lines": [r.to_row() for r in self.lines]},
                           max_chars=20_000) or ""

    def rejection(self, field_name: str, reason: str) -> Rejection:
        return Rejection(self.ret.system, "returns", self.ret.return_id, field_name, reason, self.payload())


def return_key(ret: Return, flow: str) -> str:
    return idempotency_key(ret.system, ret.return_id, ret.created_at.isoformat(), flow)


def group_returns(returns: Iterable[Return], lines: Iterable[ReturnLine]) -> list[PosReturn]:
    lines_of: dict[str, list[ReturnLine]] = defaultdict(list)
    for line in lines:
        lines_of[line.return_id].append(line)
    return [PosReturn(r, lines_of.get(r.return_id, [])) for r in returns]


def return_problems(item: PosReturn, stores: Mapping[str, StoreRef], options: ReturnSyncOptions) -> list[tuple[str, str]]:
    ret, lines = item.ret, item.lines
    problems: list[tuple[str, str]] = []
    if (ret.reason_code or "") not in options.reason_codes:
        problems.append(("reason_code", f"POS reason {ret.reason_code!r} has no configured commercetools reason code"))
    if not ret.original_order_ref:
        problems.append(("original_order_ref", "return without a reference to the original sale or order"))
    if not lines:
        problems.append(("lines", "return without lines"))
    problems += [("quantity", f"line {line.line_id} ({line.sku}): quantity {line.quantity} on a return line")
                 for line in lines if line.quantity <= 0]
    refunds = sum(line.refund_amount for line in lines)
    if lines and refunds != ret.refund_total:
        problems.append(("refund_total", f"line refunds add up to {refunds}, refund total is {ret.refund_total} "
                                         f"(difference {refunds - ret.refund_total} minor units)"))
    needs_store = options.restock_via == "return" and any(line.restock for line in lines)
    if needs_store and ret.location_key not in stores:
        problems.append(("location_key", f"location {ret.location_key!r} has no commercetools supply channel to restock"))
    return problems


def validate_returns(
    items: Iterable[PosReturn], stores: Mapping[str, StoreRef], options: ReturnSyncOptions
) -> tuple[list[PosReturn], list[Rejection]]:
    valid: list[PosReturn] = []
    rejected: list[Rejection] = []
    for item in items:
        problems = return_problems(item, stores, options)
        if problems:
            rejected += [item.rejection(f, reason) for f, reason in problems]
        else:
            valid.append(item)
    return valid, rejected


async def find_original_order(client: CommercetoolsClient, ret: Return) -> dict | None:
    ref = ret.original_order_ref or ""
    found = await client.query("orders", where=[f"custom(fields(posSaleId = {quote(ref)}))"], page_size=1)
    if found:
        return found[0]
    numbers = [pos_order_number(ret.location_key, ref)] if ret.location_key else []
    for number in [*numbers, ref]:
        order = await client.get_order_by_number(number)
        if order is not None:
            return order
    return await client.get_by_id("orders", ref)


@dataclass
class ReturnsOutcome:
    statistics: SyncStatistics
    rejections: list[Rejection]


async def sync_returns(
    returns: Iterable[Return],
    lines: Iterable[ReturnLine],
    client: CommercetoolsClient,
    ops: OpsStore,
    *,
    pos_system: str,
    stores: Mapping[str, StoreRef],
    options: ReturnSyncOptions = ReturnSyncOptions(),
) -> ReturnsOutcome:
    """Validate one batch of POS returns, record rejections, apply the rest (after the batch's sales)."""
    flow = returns_flow(pos_system)
    stats = SyncStatistics(flow=flow)
    valid, rejected = validate_returns(group_returns(returns, lines), stores, options)
    stats.processed += len({r.record_ref for r in rejected})
    stats.rejected += len({r.record_ref for r in rejected})
    if rejected:
        ops.add_rejections(flow, rejected)
    ops.resolve_rejections(flow, pos_system, [item.ret.return_id for item in valid])
    statuses = ops.ledger_statuses(return_key(item.ret, flow) for item in valid)
    refused: list[Rejection] = []
    gate = asyncio.Semaphore(options.concurrency)

    async def push(item: PosReturn) -> None:
        async with gate:
            key = return_key(item.ret, flow)
            stats.processed += 1
            prior = statuses.get(key)
            if prior in ("applied", "rejected"):
                stats.already_applied += prior == "applied"
                stats.rejected += prior == "rejected"
                return
            try:
                refusal = await _apply_return(item, key, flow, client, ops, stores, options, stats)
                if refusal is not None:  # the order cannot take it (yet): nothing written, retried next run
                    ops.add_rejections(flow, [refusal], key=key)
                    stats.rejected += 1
            except ApiError as exc:
                refusal = record_failure(exc, key, flow, item.ret.system, "returns", item.ret.return_id,
                                         "return", item.payload(), ops, stats)
            if refusal is not None:
                refused.append(refusal)

    await asyncio.gather(*(push(item) for item in valid))
    return ReturnsOutcome(stats.finish(), rejected + refused)


async def _apply_return(item: PosReturn, key, flow, client, ops, stores, options, stats) -> Rejection | None:
    """Record one return; a Rejection when the order cannot take it (nothing written then)."""
    ret, lines = item.ret, item.lines
    order = await find_original_order(client, ret)
    if order is None:
        return item.rejection("original_order_ref", f"original order {ret.original_order_ref!r} not found in "
                                                    "commercetools (as POS sale, orderNumber or id)")
    currency = (order.get("totalPrice") or {}).get("currencyCode")
    if currency != ret.currency:
        return item.rejection("currency", f"return in {ret.currency}, order {order.get('orderNumber')} in {currency}")
    reason = options.reason_codes[ret.reason_code or ""]
    returned_at = format_timestamp(ret.created_at)
    try:
        add_return_info(order, ret, lines, reason, returned_at)  # checked before anything is written
    except NotReturnable as exc:
        return item.rejection(exc.field, exc.reason)

    ops.mark_retrying(key, flow=flow, target=TARGET, source=ret.system, record_ref=ret.return_id,
                      payload={"order_id": order["id"], "orderNumber": order.get("orderNumber"),
                               "tracking": tracking_id(ret)})
    try:
        order = await client.update_with_retry(
            "orders", order["id"], lambda o: [a for a in [add_return_info(o, ret, lines, reason, returned_at)] if a],
            current=order,
        )
    except NotReturnable as exc:  # a concurrent return took the quantity meanwhile
        ops.mark_failed(key, "rejected", exc.reason)
        return item.rejection(exc.field, exc.reason)
    stats.api_writes += 1
    restocked = await _restock(order, item, key, client, stores, options, stats)
    refund = await _refund(order, ret, client, options, stats)
    order = await client.update_with_retry("orders", order["id"], lambda o: return_state_actions(o, ret, lines))
    ops.mark_applied(key, {"order_id": order["id"], "orderNumber": order.get("orderNumber"),
                           "restocked": restocked, "refund_payment_id": refund})
    stats.applied += 1
    return None


async def _restock(order, item: PosReturn, key, client, stores, options, stats) -> list[str]:
    if options.restock_via != "return":
        return []
    channel_id = stores[item.ret.location_key].channel_id
    done = []
    for line in item.lines:
        if not line.restock or items_back_in_stock(order, item.ret, line):
            continue
        result = await client.apply_stock_delta(line.sku, channel_id, line.quantity, f"{key}|{line.line_id}")
        stats.api_writes += result.status == "applied"
        done.append(line.line_id)
    return done


async def _refund(order: dict, ret: Return, client: CommercetoolsClient, options, stats) -> str | None:
    """Refund transaction for the return on the order's payment (a new one when it has none)."""
    if ret.refund_total <= 0:
        return None
    payments = [
        p for p in [await client.get_by_id("payments", ref["id"])
                    for ref in (order.get("paymentInfo") or {}).get("payments") or []]
        if p is not None
    ]
    already = next((p for p in payments if refunded_by(p, ret.return_id)), None)
    if already is not None:
        return already["id"]
    payment = refund_payment(payments, ret.refund_total)
    if payment is None:
        created = await client.create_payment(key=safe_key("pos-refund", ret.return_id), currency=ret.currency,
                                              amount_planned=0, method=options.refund_method)
        payment = created.resource
        await client.update_with_retry("orders", order["id"], lambda o: add_payment_actions(o, [payment["id"]]))
        stats.api_writes += 2
    await client.add_refund(payment["id"], ret.currency, ret.refund_total, ret.return_id)
    stats.api_writes += 1
    return payment["id"]

