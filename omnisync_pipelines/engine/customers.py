"""Plan the customers flow, both ways: validate, then match (resolve), then diff, per batch.

Matching pairs a POS customer with a commercetools customer by stable keys, in this order:
  1. normalised email;
  2. external id: the commercetools customer's externalId is the POS customer id, or the POS
     record's external id is the commercetools customer id;
  3. an existing crosswalk link (both ids mapped to one canonical id).
Anything ambiguous is reported as a likely duplicate (DUPLICATE_COLUMNS) and never merged: one
email held by two customers of one system (rule `same_email`), one external id claimed twice
(`same_external_id`), the same name and phone under different emails (`same_name_phone`). An
unmatched customer named in a duplicate row is not created on the other side either; it waits for
an operator. Matched pairs keep syncing.

Diffing: for a matched pair each field is written only in its owner's direction and never when
private (`customer_fields.owned_changes`). An unmatched customer is created on the other side when
`create_missing` allows it for that direction; a create seeds every non-private field.

The plan (`PLAN_COLUMNS`) holds one row per write:
    idempotency_key  customers_<from>_to_<to>|<from>|<customer_id>|<hash of desired>@<source updated_at>
    flow, source_system, target_system, source_id
    target_id        the target's customer id; None for a create
    canonical_id     the crosswalk id of the pair (existing link, else derived from a system id)
    action           "create" | "update"
    changes          changed fields in customer_fields.FIELDS order
    desired          JSON {field: new value}   (the ledger's "after")
    previous         JSON {field: old value}   (the ledger's "before"; {} for a create)
    source_version   the source record's updated_at (ISO) or "-"
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from types import MappingProxyType

import pandas as pd

from omnisync_pipelines.canonical.keys import idempotency_key, short_hash
from omnisync_pipelines.canonical.models import Customer, Rejection, normalise_email
from omnisync_pipelines.engine.customer_fields import (
    COMMERCETOOLS,
    POS,
    FieldChange,
    compose_changes,
    normal_phone,
    normal_text,
    owned_changes,
    seed_values,
)
from omnisync_pipelines.rest.redact import redact_body

ENTITY = "customer"
PLAN_COLUMNS = [
    "idempotency_key", "flow", "source_system", "target_system", "source_id", "target_id", "canonical_id",
    "action", "changes", "desired", "previous", "source_version",
]
DUPLICATE_COLUMNS = ["left_system", "left_id", "right_system", "right_id", "rule", "score"]
LINK_COLUMNS = ["entity", "canonical_id", "system", "system_id"]
DEFAULT_OWNERSHIP = MappingProxyType({
    "email": COMMERCETOOLS, "first_name": COMMERCETOOLS, "last_name": COMMERCETOOLS, "phone": COMMERCETOOLS,
    "loyalty_id": POS, "consent_marketing": POS,
})
TO_COMMERCETOOLS = "pos_to_commercetools"
TO_POS = "commercetools_to_pos"


def customers_flow(from_system: str, to_system: str) -> str:
    return f"customers_{from_system}_to_{to_system}"


@dataclass(frozen=True)
class CustomerSyncOptions:
    """ownership: field -> "commercetools" | "pos" (or the POS system id); private fields never flow."""

    ownership: Mapping[str, str] = field(default_factory=lambda: DEFAULT_OWNERSHIP)
    private_fields: frozenset[str] = frozenset({"phone", "date_of_birth"})
    create_missing: Mapping[str, bool] = field(
        default_factory=lambda: MappingProxyType({TO_COMMERCETOOLS: True, TO_POS: False})
    )

    def creates(self, direction: str) -> bool:
        return bool(self.create_missing.get(direction, False))


@dataclass
class CustomerPlan:
    writes: pd.DataFrame  # PLAN_COLUMNS, both directions; `for_flow` splits them
    links: pd.DataFrame  # LINK_COLUMNS: matched pairs for the crosswalk
    duplicates: pd.DataFrame  # DUPLICATE_COLUMNS
    rejections: list[Rejection]

    def for_flow(self, flow: str) -> pd.DataFrame:
        return self.writes[self.writes["flow"] == flow].reset_index(drop=True)


# validate ------------------------------------------------------------------------------------
def email_problem(value: str | None) -> str | None:
    """Why `value` is not a usable email address, or None (a missing email is not a problem here)."""
    email = normalise_email(value)
    if email is None:
        return None
    if any(ch.isspace() for ch in email):
        return "email contains whitespace"
    if email.count("@") != 1:
        return "email has no '@'" if "@" not in email else "email has more than one '@'"
    local, domain = email.split("@")
    if not local:
        return "email has nothing before the '@'"
    if "." not in domain or domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return f"email domain {domain!r} is not a domain name"
    return None


def validate_customers(customers: Iterable[Customer]) -> tuple[list[Customer], list[Rejection]]:
    """Valid customers with their email normalised, and a Rejection (field `email`) per bad address."""
    valid: list[Customer] = []
    rejected: list[Rejection] = []
    for c in customers:
        problem = email_problem(c.email)
        if problem:
            payload = redact_body(c.to_row()) or "{}"
            rejected.append(Rejection(c.system, "customers", c.customer_id, "email", problem, payload))
        else:
            valid.append(c if c.email == normalise_email(c.email) else replace(c, email=normalise_email(c.email)))
    return valid, rejected


# resolve (match) -----------------------------------------------------------------------------
@dataclass
class Matching:
    pairs: list[tuple[Customer, Customer]] = field(default_factory=list)  # (pos, commercetools)
    duplicates: list[dict] = field(default_factory=list)
    held: set[tuple[str, str]] = field(default_factory=set)  # (system, id) not to be created

    def report(self, left: Customer, right: Customer, rule: str, score: float) -> None:
        self.duplicates.append({"left_system": left.system, "left_id": left.customer_id, "right_system": right.system,
                                "right_id": right.customer_id, "rule": rule, "score": score})
        self.held.update({_ref(left), _ref(right)})


def _ref(c: Customer) -> tuple[str, str]:
    return (c.system, c.customer_id)


def match_customers(
    pos: Sequence[Customer], ct: Sequence[Customer], links: Mapping[tuple[str, str], str] | None = None
) -> Matching:
    links = links or {}
    m = Matching()
    pos_by_email, ct_by_email = _group(pos, lambda c: c.email), _group(ct, lambda c: c.email)
    ambiguous = {e for groups in (pos_by_email, ct_by_email) for e, g in groups.items() if len(g) > 1}
    for email in sorted(ambiguous):
        group = pos_by_email.get(email, []) + ct_by_email.get(email, [])
        for left, right in combinations(group, 2):
            m.report(left, right, "same_email", 1.0)
    claimed: set[str] = set()

    def pair(p: Customer, c: Customer) -> None:
        m.pairs.append((p, c))
        claimed.add(c.customer_id)

    rest = []
    for p in pos:
        found = ct_by_email.get(p.email, []) if p.email not in ambiguous else []
        if len(found) == 1 and found[0].customer_id not in claimed:
            pair(p, found[0])
        else:
            rest.append(p)
    ct_by_canonical = _group(ct, lambda c: links.get(_ref(c)))
    ct_by_external, ct_by_id = _group(ct, lambda c: c.external_id), {c.customer_id: c for c in ct}
    for p in rest:
        candidates = ct_by_external.get(p.customer_id, [])
        if p.external_id in ct_by_id:
            candidates = [*candidates, ct_by_id[p.external_id]]
        by_external = list({c.customer_id: c for c in candidates if c.customer_id not in claimed}.values())
        by_link = [c for c in ct_by_canonical.get(links.get(_ref(p)), []) if c.customer_id not in claimed]
        if len(by_external) > 1:
            for c in by_external:
                m.report(p, c, "same_external_id", 0.9)
        elif by_external or len(by_link) == 1:
            pair(p, (by_external or by_link)[0])
    _near_duplicates(m, pos, ct)
    return m


def _group(customers: Iterable[Customer], key) -> dict:
    groups: dict = defaultdict(list)
    for c in customers:
        if (k := key(c)) is not None:
            groups[k].append(c)
    return groups


def _name_phone(c: Customer) -> tuple[str, str, str] | None:
    first, last, phone = normal_text(c.first_name), normal_text(c.last_name), normal_phone(c.phone)
    if not (first or last) or not phone:
        return None
    return ((first or "").casefold(), (last or "").casefold(), phone[-9:])  # last digits: +49 30… == 030…


def _near_duplicates(m: Matching, pos: Sequence[Customer], ct: Sequence[Customer]) -> None:
    same_person = {frozenset((_ref(p), _ref(c))) for p, c in m.pairs}
    for group in _group([*pos, *ct], _name_phone).values():
        for left, right in combinations(group, 2):
            if left.email != right.email and frozenset((_ref(left), _ref(right))) not in same_person:
                m.report(left, right, "same_name_phone", 0.8)


# diff ----------------------------------------------------------------------------------------
def plan_customers(
    pos: Sequence[Customer],
    ct: Sequence[Customer],
    *,
    pos_system: str,
    links: Mapping[tuple[str, str], str] | None = None,
    options: CustomerSyncOptions = CustomerSyncOptions(),
) -> CustomerPlan:
    """pos / ct: canonical customers of each system; links: `Crosswalk.mapping("customer")`."""
    links = links or {}
    pos_valid, rejections = validate_customers(pos)
    ct_valid, ct_rejected = validate_customers(ct)
    rejections += ct_rejected
    m = match_customers(pos_valid, ct_valid, links)
    rules = dict(ownership=options.ownership, private_fields=options.private_fields, pos_system=pos_system)
    rows, link_rows = [], []
    for p, c in m.pairs:
        canonical = links.get(_ref(c)) or links.get(_ref(p)) or canonical_id(c)
        link_rows += [_link(canonical, p), _link(canonical, c)]
        for source, target in ((p, c), (c, p)):
            changes = owned_changes(compose_changes(source, target), source.system, **rules)
            if changes:
                rows.append(_write(source, target.system, target.customer_id, canonical, "update", changes))
    paired = {_ref(x) for pair in m.pairs for x in pair}
    for source, target_system, direction in [*((p, COMMERCETOOLS, TO_COMMERCETOOLS) for p in pos_valid),
                                             *((c, pos_system, TO_POS) for c in ct_valid)]:
        if _ref(source) in paired or _ref(source) in m.held or not options.creates(direction):
            continue
        if source.email is None and target_system == COMMERCETOOLS:
            reason = "no email: commercetools needs one to create the customer"
            payload = redact_body(source.to_row()) or "{}"
            rejections.append(Rejection(source.system, "customers", source.customer_id, "email", reason, payload))
            continue
        seed = [FieldChange(f, None, v) for f, v in seed_values(source, options.private_fields).items()]
        canonical = links.get(_ref(source)) or canonical_id(source)
        rows.append(_write(source, target_system, None, canonical, "create", seed))
    return CustomerPlan(
        writes=pd.DataFrame(rows, columns=PLAN_COLUMNS),
        links=pd.DataFrame(link_rows, columns=LINK_COLUMNS),
        duplicates=pd.DataFrame(m.duplicates, columns=DUPLICATE_COLUMNS),
        rejections=rejections,
    )


def canonical_id(c: Customer) -> str:
    """A new canonical id, derived from the first system id seen (stable across runs)."""
    return f"cust-{short_hash(c.system, c.customer_id)}"


def _link(canonical: str, c: Customer) -> dict:
    return {"entity": ENTITY, "canonical_id": canonical, "system": c.system, "system_id": c.customer_id}


def _write(source: Customer, target_system: str, target_id: str | None, canonical: str, action: str,
           changes: list[FieldChange]) -> dict:
    flow = customers_flow(source.system, target_system)
    desired = json.dumps({ch.field: ch.new for ch in changes}, sort_keys=True)
    version = source.updated_at.isoformat() if source.updated_at else "-"
    key = idempotency_key(source.system, source.customer_id, f"{short_hash(action, desired)}@{version}", flow)
    return {
        "idempotency_key": key, "flow": flow, "source_system": source.system, "target_system": target_system,
        "source_id": source.customer_id, "target_id": target_id, "canonical_id": canonical, "action": action,
        "changes": [ch.field for ch in changes], "desired": desired,
        "previous": json.dumps({ch.field: ch.old for ch in changes if action == "update"}, sort_keys=True, default=str),
        "source_version": version,
    }


def customers_from_frame(frame: pd.DataFrame) -> list[Customer]:
    """Snapshot rows (Customer columns) back to records; NaN/NaT become None."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [Customer(**{k: row[k] for k in Customer.columns() if k in row}) for row in clean.to_dict("records")]
