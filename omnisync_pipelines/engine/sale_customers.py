"""Who a store sale was made to, in commercetools terms: the linked customer and the loyalty id.

A POS sale names its customer by the POS id (`Order.customer_ref`). The customers flow links each POS
customer to its commercetools twin in the crosswalk (both ids map to one canonical id), so the sale
becomes an order of that commercetools customer. A POS customer with no linked twin yet leaves the
order a guest order (with the sale's email), never a guessed customer. The loyalty id is the POS
customer's (X-Series: the customer code when loyalty is enabled); it travels with the order so the
points of an in-store purchase can be credited online.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from omnisync_pipelines.canonical.models import Customer

COMMERCETOOLS = "commercetools"


@dataclass(frozen=True)
class SaleCustomers:
    commercetools_ids: Mapping[str, str] = field(default_factory=dict)  # POS customer id -> commercetools id
    loyalty_ids: Mapping[str, str] = field(default_factory=dict)  # POS customer id -> loyalty id

    def commercetools_id(self, pos_customer_id: str) -> str | None:
        return self.commercetools_ids.get(pos_customer_id)

    def loyalty_id(self, pos_customer_id: str) -> str | None:
        return self.loyalty_ids.get(pos_customer_id)


def sale_customers(
    pos_system: str, links: Mapping[tuple[str, str], str], pos_customers: Iterable[Customer] = ()
) -> SaleCustomers:
    """links: `Crosswalk.mapping("customer")`; pos_customers: the POS customers snapshot."""
    ct_of_canonical: dict[str, str] = {}
    for (system, system_id), canonical in sorted(links.items()):
        if system == COMMERCETOOLS:
            ct_of_canonical.setdefault(canonical, system_id)  # one twin per canonical id; sorted: stable
    linked = {
        system_id: ct_of_canonical[canonical]
        for (system, system_id), canonical in links.items()
        if system == pos_system and canonical in ct_of_canonical
    }
    loyalty = {c.customer_id: c.loyalty_id for c in pos_customers if c.system == pos_system and c.loyalty_id}
    return SaleCustomers(linked, loyalty)
