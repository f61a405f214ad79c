"""Customers: `POST /customers` answers `{"customer": {...}}`; email is unique case-insensitively."""

from __future__ import annotations

import hashlib

from ..errors import CtError, invalid_input, invalid_operation, required
from ..fields import address, custom_actions, custom_fields, setter
from ..indexes import IndexSpec, field_index
from ..store import Ctx
from .base import ResourceKind

_PLAIN_FIELDS = ("key", "externalId", "customerNumber", "firstName", "lastName", "middleName", "title",
                 "salutation", "dateOfBirth", "companyName", "vatId", "locale")


def _address_id(addresses: list[dict], index, field: str) -> str:
    if not isinstance(index, int) or not 0 <= index < len(addresses):
        raise invalid_input(f"{field}: There is no address at index '{index}'.")
    return addresses[index]["id"]


def _create(ctx: Ctx, draft: dict) -> dict:
    addresses = [address(ctx, a) for a in draft.get("addresses") or []]
    result = {
        "email": required(draft, "email"),
        "addresses": addresses,
        "shippingAddressIds": [_address_id(addresses, i, "shippingAddresses") for i in draft.get("shippingAddresses") or []],
        "billingAddressIds": [_address_id(addresses, i, "billingAddresses") for i in draft.get("billingAddresses") or []],
        "isEmailVerified": bool(draft.get("isEmailVerified", False)),
        "stores": draft.get("stores") or [],
        "authenticationMode": draft.get("authenticationMode", "Password"),
        "customerGroupAssignments": draft.get("customerGroupAssignments") or [],  # required in Customer
    }
    if draft.get("password") is not None:
        result["password"] = "****" + hashlib.sha256(str(draft["password"]).encode()).hexdigest()[:16]
    for name in _PLAIN_FIELDS:
        if draft.get(name) is not None:
            result[name] = draft[name]
    for draft_name, field in (("defaultShippingAddress", "defaultShippingAddressId"),
                              ("defaultBillingAddress", "defaultBillingAddressId")):
        if draft.get(draft_name) is not None:
            result[field] = _address_id(addresses, draft[draft_name], draft_name)
    if draft.get("customerGroup") is not None:  # customer groups are not modelled: keep the id as given
        result["customerGroup"] = {"typeId": "customer-group", "id": draft["customerGroup"].get("id")}
    if draft.get("custom") is not None:
        result["custom"] = custom_fields(ctx, draft["custom"], "customer")
    return result


def _find_address(customer: dict, action: dict) -> dict:
    for item in customer["addresses"]:
        if ("addressId" in action and item["id"] == action["addressId"]) or (
                "addressKey" in action and item.get("key") == action["addressKey"]):
            return item
    raise invalid_input(f"The customer does not have an address with ID '{action.get('addressId')}'.")


def _add_address(ctx: Ctx, customer: dict, action: dict) -> None:
    customer["addresses"] = customer["addresses"] + [address(ctx, required(action, "address"))]


def _change_address(ctx: Ctx, customer: dict, action: dict) -> None:
    old = _find_address(customer, action)
    new = address(ctx, required(action, "address"))
    new["id"] = old["id"]
    customer["addresses"] = [new if a["id"] == old["id"] else a for a in customer["addresses"]]


def _remove_address(ctx: Ctx, customer: dict, action: dict) -> None:
    gone = _find_address(customer, action)["id"]
    customer["addresses"] = [a for a in customer["addresses"] if a["id"] != gone]
    for field in ("shippingAddressIds", "billingAddressIds"):
        customer[field] = [i for i in customer[field] if i != gone]
    for field in ("defaultShippingAddressId", "defaultBillingAddressId"):
        if customer.get(field) == gone:
            customer.pop(field)


def _address_ref(field: str, as_list: bool):
    def apply(ctx: Ctx, customer: dict, action: dict) -> None:
        if not as_list and action.get("addressId") is None and action.get("addressKey") is None:
            customer.pop(field, None)
            return
        found = _find_address(customer, action)["id"]
        if as_list:
            customer[field] = customer[field] + ([] if found in customer[field] else [found])
        else:
            customer[field] = found

    return apply


def _set_customer_number(ctx: Ctx, customer: dict, action: dict) -> None:
    if customer.get("customerNumber") is not None:
        raise invalid_operation("The customerNumber can only be set once and can't be changed.")
    setter("customerNumber")(ctx, customer, action)


def _validate(ctx: Ctx, customer: dict) -> None:
    email = customer["email"].lower()
    others = ctx.candidates("customer", ("email.lower", email), ("customerNumber", customer.get("customerNumber")))
    for other in others:
        if other["id"] == customer["id"]:
            continue
        if other["email"].lower() == email:
            message = "There is already an existing customer with the provided email."
            raise CtError(400, "DuplicateField", message, field="email", duplicateValue=customer["email"])
        number = customer.get("customerNumber")
        if number is not None and other.get("customerNumber") == number:
            raise CtError(400, "DuplicateField", f"A duplicate value '\"{number}\"' exists for field 'customerNumber'.",
                          field="customerNumber", duplicateValue=number)


def _lower_email(customer: dict) -> tuple:
    email = customer.get("email")
    return (email.lower() if isinstance(email, str) else email,)


CUSTOMERS = ResourceKind(
    path="customers", type_id="customer",
    view_scopes=("view_customers", "manage_customers"), manage_scopes=("manage_customers",),
    create=_create,
    actions={
        "changeEmail": lambda ctx, c, a: c.update(email=required(a, "email")),
        **{f"set{name[0].upper()}{name[1:]}": setter(name) for name in _PLAIN_FIELDS
           if name not in ("customerNumber",)},
        "setCustomerNumber": _set_customer_number,
        "addAddress": _add_address,
        "changeAddress": _change_address,
        "removeAddress": _remove_address,
        "setDefaultShippingAddress": _address_ref("defaultShippingAddressId", as_list=False),
        "setDefaultBillingAddress": _address_ref("defaultBillingAddressId", as_list=False),
        "addShippingAddressId": _address_ref("shippingAddressIds", as_list=True),
        "addBillingAddressId": _address_ref("billingAddressIds", as_list=True),
        **custom_actions("customer"),
    },
    validate=_validate,
    message_prefix="Customer",
    wrap_created="customer",
    indexes=(IndexSpec("email.lower", _lower_email), field_index("customerNumber")),
)
