"""The bad-input corpus: malformed records for every entity of both systems, written raw into the
emulators' stores (as a buggy integration or a broken till would leave them).

Each case injects one record and says how the rejection must name it: the record reference and
a word the rejected field must contain. `inject(rig)` returns (record_ref, field_word). The
commercetools cases are here; a POS's are in `corpus_<pos id>.py` (its `CASES`, and `raw_writes(rig)`
around the injection when its emulator must not announce them), found by the POS's id.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec

from omnisync_pipelines_tests.reliability.harness import Rig

HUGE = "Ä" * 200_000


@dataclass(frozen=True)
class Case:
    name: str
    system: str
    entity: str
    inject: Callable[[Rig], tuple[str, str]]
    known_gap: str | None = None  # not yet rejected: why (the case's test is a strict xfail)


def new_id() -> str:
    return str(uuid.uuid4())


POISONED: set[tuple[str, str]] = set()  # (SKU, store) whose POS count a case overwrote with garbage
# case name -> (SKU, store) whose stock the case's record moves if it is not rejected (a known gap's damage)
AT_RISK: dict[str, set[tuple[str, str]]] = {}


def _pos_corpus(pos: str):
    name = f"{__package__}.corpus_{pos}"
    return import_module(name) if find_spec(name) else None


def cases(pos: str) -> list[Case]:
    """The POS's cases (none when it has no corpus yet), then the commercetools ones."""
    module = _pos_corpus(pos)
    return [*(module.CASES if module else []), *CT_CASES]


def raw_writes(rig: Rig):
    module = _pos_corpus(rig.pos)
    return module.raw_writes(rig) if module and hasattr(module, "raw_writes") else nullcontext()


def oversold_count(rig: Rig) -> tuple[str, str]:
    """Not bad input, the control beside the corpus: a till may sell past zero, so a negative count is
    the store's real count (nothing to reject). Returns (SKU, store)."""
    traded = " ".join(repr(event) for day in rig.days for event in day.events)
    # a SKU no event of the days names, so that no online order of the day needs the units it lacks
    sku = next(v.sku for v in reversed(rig.world.variants) if repr(v.sku) not in traded)
    store = rig.world.stores[0].key
    rig.probe.set_count(sku, store, -2)
    return sku, store


def _ct_order(rig: Rig, number: str, change: Callable[[dict], None]) -> tuple[str, str]:
    row = copy.deepcopy(next(o for o in rig.ct_orders() if (o.get("custom") or {}).get("fields", {}).get("fulfilment")))
    now = rig.ct.store.now()
    row.update({"id": new_id(), "orderNumber": number, "createdAt": now, "lastModifiedAt": now, "version": 1,
                "orderState": "Open"})
    change(row)
    rig.ct.store.put("order", row)
    return number, row["id"]


def _ct_negative_quantity(rig: Rig) -> tuple[str, str]:
    def change(row: dict) -> None:
        row["lineItems"][0]["quantity"] = -2  # commercetools line items hold at least one unit
        sku = row["lineItems"][0]["variant"]["sku"]
        AT_RISK["online order: negative quantity"] = {(sku, store.key) for store in rig.world.stores}
    return _ct_order(rig, "WEB-BAD-QUANTITY", change)[0], "quantity"


def _ct_unknown_sku(row: dict) -> None:
    row["lineItems"][0]["variant"]["sku"] = "NOPE-404"


def _ct_unknown_store(row: dict) -> None:
    row["custom"]["fields"]["fulfilmentStore"] = "atlantis"
    row["store"] = {"typeId": "store", "key": "atlantis"}


def _ct_wrong_currency(row: dict) -> None:
    for money in (row["totalPrice"], row["lineItems"][0]["price"]["value"], row["lineItems"][0]["totalPrice"]):
        money["currencyCode"] = "USD"


CT_CASES = [
    # commercetools online orders -> store fulfilment
    Case("online order: SKU unknown", "commercetools", "orders",
         lambda r: (_ct_order(r, "WEB-BAD-SKU", _ct_unknown_sku)[0], "nope-404")),
    Case("online order: unknown fulfilment store", "commercetools", "orders",
         lambda r: (_ct_order(r, "WEB-BAD-STORE", _ct_unknown_store)[0], "store")),
    Case("online order: wrong currency for the store", "commercetools", "orders",
         lambda r: (_ct_order(r, "WEB-BAD-CURRENCY", _ct_wrong_currency)[0], "currency")),
    Case("online order: negative quantity", "commercetools", "orders", _ct_negative_quantity),
]
