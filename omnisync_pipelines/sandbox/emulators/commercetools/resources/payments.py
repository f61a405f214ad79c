"""Payments with transactions (refunds are `addTransaction` with type Refund)."""

from __future__ import annotations

from ..errors import enum_value, invalid_input, required
from ..fields import custom_actions, custom_fields, money, optional_reference, setter
from ..store import Ctx
from .base import ResourceKind

TRANSACTION_TYPES = ("Authorization", "CancelAuthorization", "Charge", "Refund", "Chargeback")
TRANSACTION_STATES = ("Initial", "Pending", "Success", "Failure")


def _transaction(ctx: Ctx, draft: dict, field: str) -> dict:
    result = {"id": ctx.new_id(),
              "type": enum_value(required(draft, "type"), TRANSACTION_TYPES, f"{field}.type"),
              "amount": money(required(draft, "amount"), f"{field}.amount"),
              "state": enum_value(draft.get("state", "Initial"), TRANSACTION_STATES, f"{field}.state")}
    for name in ("timestamp", "interactionId"):
        if draft.get(name) is not None:
            result[name] = draft[name]
    if draft.get("custom") is not None:
        result["custom"] = custom_fields(ctx, draft["custom"], "transaction", f"{field}.custom")
    return result


def _create(ctx: Ctx, draft: dict) -> dict:
    result = {
        "amountPlanned": money(required(draft, "amountPlanned"), "amountPlanned"),
        "paymentMethodInfo": draft.get("paymentMethodInfo") or {},
        "paymentStatus": draft.get("paymentStatus") or {},
        "transactions": [_transaction(ctx, t, f"transactions[{i}]") for i, t in enumerate(draft.get("transactions") or [])],
        "interfaceInteractions": [],
    }
    for name in ("key", "interfaceId", "anonymousId"):
        if draft.get(name) is not None:
            result[name] = draft[name]
    customer = optional_reference(ctx, draft.get("customer"), "customer", "customer")
    if customer is not None:
        result["customer"] = customer
    if draft.get("custom") is not None:
        result["custom"] = custom_fields(ctx, draft["custom"], "payment")
    return result


def _find_transaction(payment: dict, transaction_id: str) -> dict:
    found = next((t for t in payment["transactions"] if t["id"] == transaction_id), None)
    if found is None:
        raise invalid_input(f"The transaction with ID '{transaction_id}' does not exist.")
    return found


def _add_transaction(ctx: Ctx, payment: dict, action: dict) -> None:
    transaction = _transaction(ctx, required(action, "transaction"), "transaction")
    payment["transactions"] = payment["transactions"] + [transaction]
    ctx.emit("payment", payment["id"], "PaymentTransactionAdded", transaction=transaction)


def _change_transaction_state(ctx: Ctx, payment: dict, action: dict) -> None:
    transaction = _find_transaction(payment, required(action, "transactionId"))
    new = enum_value(required(action, "state"), TRANSACTION_STATES, "state")
    if transaction["state"] != new:
        transaction["state"] = new
        ctx.emit("payment", payment["id"], "PaymentTransactionStateChanged", transactionId=transaction["id"],
                 state=new)


def _transaction_setter(field: str):
    def apply(ctx: Ctx, payment: dict, action: dict) -> None:
        _find_transaction(payment, required(action, "transactionId"))[field] = action.get(field)

    return apply


def _method_info(field: str):
    def apply(ctx: Ctx, payment: dict, action: dict) -> None:
        info = dict(payment["paymentMethodInfo"])
        if action.get(field) is None:
            info.pop(field, None)
        else:
            info[field] = action[field]
        payment["paymentMethodInfo"] = info

    return apply


PAYMENTS = ResourceKind(
    path="payments", type_id="payment",
    view_scopes=("view_payments", "manage_payments"), manage_scopes=("manage_payments",),
    create=_create,
    actions={
        "addTransaction": _add_transaction,
        "changeTransactionState": _change_transaction_state,
        "changeTransactionInteractionId": _transaction_setter("interactionId"),
        "changeTransactionTimestamp": _transaction_setter("timestamp"),
        "changeAmountPlanned": lambda ctx, p, a: p.update(amountPlanned=money(required(a, "amount"), "amount")),
        "setKey": setter("key"),
        "setInterfaceId": setter("interfaceId"),
        "setMethodInfoInterface": _method_info("paymentInterface"),
        "setMethodInfoMethod": _method_info("method"),
        "setMethodInfoName": _method_info("name"),
        "setStatusInterfaceCode": lambda ctx, p, a: p["paymentStatus"].update(interfaceCode=a.get("interfaceCode")),
        "setStatusInterfaceText": lambda ctx, p, a: p["paymentStatus"].update(interfaceText=a.get("interfaceText")),
        **custom_actions("payment"),
    },
    message_prefix="Payment",
)
