"""Customer field diffs: one tiny pure function per field, a compose function, and the ownership filter.

Each diff function takes the source system's value and the target system's value and returns a
`FieldChange` when the target must be written, or None when the two agree once normalised. A source
value of None means "the source does not know", never "erase it at the target": a till that never
asked for a phone number must not wipe the one the web shop holds.

`owned_changes` is the before-push filter: a change survives only when the source system owns the
field (DESIGN §2) and the field is not private.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from omnisync_pipelines.canonical.models import Customer, normalise_email

COMMERCETOOLS = "commercetools"
POS = "pos"  # ownership alias for "whichever POS system this deployment runs"
FIELDS = ("email", "first_name", "last_name", "phone", "loyalty_id", "consent_marketing")


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: Any  # the target's current value
    new: Any  # the value to write (normalised)


# normalisers ---------------------------------------------------------------------------------
def normal_text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def normal_phone(value: Any) -> str | None:
    """Compare phones by their digits (and a leading +): "+49 30 1234" equals "+49-30-1234"."""
    text = normal_text(value)
    if text is None:
        return None
    digits = re.sub(r"[^\d]", "", text)
    if not digits:
        return None
    return ("+" if text.startswith("+") else "") + digits


def _diff(field: str, new: Any, old: Any, same: Callable[[Any], Any]) -> FieldChange | None:
    if new is None or same(new) == same(old):
        return None
    return FieldChange(field, old, new)


# one function per field ----------------------------------------------------------------------
def diff_email(source: str | None, target: str | None) -> FieldChange | None:
    return _diff("email", normalise_email(source), target, normalise_email)


def diff_first_name(source: str | None, target: str | None) -> FieldChange | None:
    return _diff("first_name", normal_text(source), target, normal_text)


def diff_last_name(source: str | None, target: str | None) -> FieldChange | None:
    return _diff("last_name", normal_text(source), target, normal_text)


def diff_phone(source: str | None, target: str | None) -> FieldChange | None:
    return _diff("phone", normal_text(source), target, normal_phone)


def diff_loyalty_id(source: str | None, target: str | None) -> FieldChange | None:
    return _diff("loyalty_id", normal_text(source), target, normal_text)


def diff_consent_marketing(source: bool | None, target: bool | None) -> FieldChange | None:
    """Consent is opt-in: a target that records none has none, so a source's "no" does not need writing."""
    if source is None or bool(source) == bool(target):
        return None
    return FieldChange("consent_marketing", target, bool(source))


FIELD_DIFFS: dict[str, Callable[[Any, Any], FieldChange | None]] = {
    "email": diff_email,
    "first_name": diff_first_name,
    "last_name": diff_last_name,
    "phone": diff_phone,
    "loyalty_id": diff_loyalty_id,
    "consent_marketing": diff_consent_marketing,
}


def compose_changes(source: Customer, target: Customer, fields: Iterable[str] = FIELDS) -> list[FieldChange]:
    """Every field where `target` differs from `source`, in FIELDS order (no ownership applied yet)."""
    wanted = set(fields)
    changes = (FIELD_DIFFS[f](getattr(source, f), getattr(target, f)) for f in FIELDS if f in wanted)
    return [c for c in changes if c is not None]


# ownership -----------------------------------------------------------------------------------
def owner_system(field: str, ownership: Mapping[str, str], pos_system: str) -> str | None:
    owner = ownership.get(field)
    return pos_system if owner == POS else owner


def may_flow(
    field: str, source_system: str, *, ownership: Mapping[str, str], private_fields: Iterable[str], pos_system: str
) -> bool:
    """True when `field` may be written from `source_system` to the other side."""
    if field in set(private_fields):
        return False
    return owner_system(field, ownership, pos_system) == source_system


def owned_changes(
    changes: Iterable[FieldChange],
    source_system: str,
    *,
    ownership: Mapping[str, str],
    private_fields: Iterable[str],
    pos_system: str,
) -> list[FieldChange]:
    """The before-push filter: keep changes to fields the source owns; private fields never pass."""
    private = frozenset(private_fields)
    return [
        c for c in changes
        if may_flow(c.field, source_system, ownership=ownership, private_fields=private, pos_system=pos_system)
    ]


def seed_values(source: Customer, private_fields: Iterable[str]) -> dict[str, Any]:
    """What a create copies: every known, non-private field (the other side has nothing to own yet)."""
    private = frozenset(private_fields)
    blank = Customer(system="", customer_id="", email=None)
    return {c.field: c.new for c in compose_changes(source, blank) if c.field not in private}
