"""Orders (import of POS sales, lookup, updates) and payments."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from omnisync_pipelines.canonical.money import currency_digits
from omnisync_pipelines.connectors.commercetools.actions import Action
from omnisync_pipelines.connectors.commercetools.errors import is_duplicate_of
from omnisync_pipelines.rest.errors import ApiTransportError, BadRequest, NotFound, ServerError

if TYPE_CHECKING:
    from omnisync_pipelines.connectors.commercetools.client import CommercetoolsClient

# Payments for the tenders, shipping methods for their keys (`Single` and `Multiple` shipping mode).
ORDER_EXPAND = ["paymentInfo.payments[*]", "shippingInfo.shippingMethod", "shipping[*].shippingInfo.shippingMethod"]


@dataclass(frozen=True)
class WriteResult:
    status: Literal["applied", "already_applied"]
    resource: dict

    @property
    def id(self) -> str:
        return self.resource["id"]


def money(currency: str, cent_amount: int) -> dict:
    return {"type": "centPrecision", "currencyCode": currency, "centAmount": cent_amount,
            "fractionDigits": currency_digits(currency)}


def transaction(kind: str, currency: str, cent_amount: int, *, interaction_id: str | None = None,
                state: str = "Success", timestamp: str | None = None) -> dict:
    tx = {"type": kind, "amount": {"currencyCode": currency, "centAmount": cent_amount}, "state": state}
    if interaction_id:
        tx["interactionId"] = interaction_id
    if timestamp:
        tx["timestamp"] = timestamp
    return tx


class OrderNumberTaken(BadRequest):
    """The orderNumber of a sale being imported belongs to an order of another sale."""


def _sale_id(order: dict) -> str | None:
    return ((order.get("custom") or {}).get("fields") or {}).get("posSaleId")


def _same_sale(existing: dict, draft: dict, cause: Exception) -> dict:
    mine, theirs = _sale_id(draft), _sale_id(existing)
    if theirs is None or mine == theirs:  # no posSaleId: an order made before omnisync set one, taken as ours
        return existing
    number = draft["orderNumber"]
    raise OrderNumberTaken(
        f"orderNumber {number} already belongs to POS sale {theirs} (order {existing.get('id')}); sale {mine} was not "
        "merged into it: two sales derived the same number (see docs/conventions.md, orderNumber)",
        system="commercetools", method="POST", url=getattr(cause, "url", ""), status=400,
    ) from cause


class OrderApi:
    # orders ----------------------------------------------------------------------------------

    async def iter_orders(self: CommercetoolsClient, *, since: datetime | None = None, where=()) -> AsyncIterator[dict]:
        params = {"expand": ORDER_EXPAND}
        source = (
            self.iter_query("orders", where=where, params=params)
            if since is None
            else self.iter_modified_since("orders", since, where=where, params=params)
        )
        async for order in source:
            yield order

    async def get_order_by_number(self: CommercetoolsClient, order_number: str, *, expand: bool = False) -> dict | None:
        params = {"expand": ORDER_EXPAND} if expand else None
        return await self.get_by_key_path("orders", f"order-number={order_number}", params=params)

    async def get_by_key_path(self: CommercetoolsClient, resource: str, selector: str, *, params=None) -> dict | None:
        try:
            return await self.call("GET", self.url(resource, selector), params=params)
        except NotFound:
            return None

    async def import_order(self: CommercetoolsClient, draft: dict) -> WriteResult:
        """Import an order (a POS sale) once: `orderNumber` is the idempotency key.

        A DuplicateField on orderNumber, or a failure after which the order exists anyway (a 5xx or
        a lost answer may still have created it), returns the existing order as `already_applied`,
        but only when it is this sale's order (same `posSaleId`, or none: an order imported before
        omnisync set one): another sale's order under the same number raises `OrderNumberTaken`, so
        the sale is rejected instead of merged into it.
        """
        order_number = draft["orderNumber"]
        try:
            return WriteResult("applied", await self.call("POST", self.url("orders", "import"), json=draft))
        except BadRequest as exc:
            if not is_duplicate_of(exc, "orderNumber"):
                raise
            existing = await self.get_order_by_number(order_number)
            if existing is None:
                raise
            return WriteResult("already_applied", _same_sale(existing, draft, exc))
        except (ServerError, ApiTransportError) as exc:
            existing = await self.get_order_by_number(order_number)
            if existing is None:
                raise
            return WriteResult("already_applied", _same_sale(existing, draft, exc))

    async def update_order(
        self: CommercetoolsClient, order_id: str, version: int, actions: Sequence[Action]
    ) -> dict | None:
        """Apply `actions`; on a 409 they are re-sent against the re-read order, so pass only
        actions that mean the same on a newer version (state changes, set-field actions)."""
        return await self.update_with_retry(
            "orders", order_id, lambda _current: actions, current={"id": order_id, "version": version}
        )

    # payments --------------------------------------------------------------------------------

    async def create_payment(
        self: CommercetoolsClient,
        *,
        key: str,
        currency: str,
        amount_planned: int,
        method: str,
        payment_interface: str = "omnisync",
        transactions: Sequence[dict] = (),
    ) -> WriteResult:
        """Create a payment (e.g. with Charge transactions); an existing `key` is returned as is."""
        draft = {
            "key": key,
            "amountPlanned": {"currencyCode": currency, "centAmount": amount_planned},
            "paymentMethodInfo": {"paymentInterface": payment_interface, "method": method, "name": {"en": method}},
            "transactions": list(transactions),
        }
        try:
            return WriteResult("applied", await self.create("payments", draft))
        except BadRequest as exc:
            if not is_duplicate_of(exc, "key"):
                raise
            return WriteResult("already_applied", await self.get_by_key("payments", key))

    async def add_refund(
        self: CommercetoolsClient, payment_id: str, currency: str, cent_amount: int, interaction_id: str
    ) -> dict | None:
        """addTransaction Refund, skipped when a refund with this interactionId is already there."""

        def build(current: dict) -> list[Action]:
            if any(
                t.get("type") == "Refund" and t.get("interactionId") == interaction_id
                for t in current.get("transactions") or []
            ):
                return []
            tx = transaction("Refund", currency, cent_amount, interaction_id=interaction_id)
            return [{"action": "addTransaction", "transaction": tx}]

        return await self.update_with_retry("payments", payment_id, build)
