"""API economy of the flows that write besides stock: catalog and prices commercetools -> the POS,
and customers both ways. Each runs as its Dagster assets run it (snapshots read through the
connectors, full or since the cursors; the engine's plan; the engine's push through the connector's
target) on a `WorldRig`.

Per flow: an initial run aligns both systems; the retailer then changes ~1 % of the source records
through the source's API; a delta run follows, and its calls are counted per system (writes: non-GET
calls, OAuth excluded). The baseline is the cheapest naive full push there is, by one rule in every
flow: read what addressing the records needs, in the largest pages the API allows, then one write per
record through the same client; each system's read also serves as the source of the other direction.
The POS's half of each naive push is its connector's bench support (`pos_hooks.ConnectorBench`: its
products, and what pricing them needs, then one product update per SKU; its customers, then one write
each); commercetools' half is here: its customers in pages of 500 (for id and version) and the custom
type, then one update each.
"""

from __future__ import annotations

import pandas as pd

from omnisync_pipelines.bench.pos_hooks import connector_bench
from omnisync_pipelines.bench.world_rig import CT, WorldRig, bench_world, open_world_rig
from omnisync_pipelines.canonical.models import normalise_email
from omnisync_pipelines.connectors.registry import build_catalog_target, build_customer_target
from omnisync_pipelines.defs.catalog_flow import _with_countries, pos_rows_of, settle_unplanned
from omnisync_pipelines.defs.customer_flow import sync_options
from omnisync_pipelines.engine.catalog_plan import catalog_flow, plan_catalog
from omnisync_pipelines.engine.catalog_push import push_catalog
from omnisync_pipelines.engine.catalog_validate import locations_from_frame
from omnisync_pipelines.engine.customer_push import push_customers
from omnisync_pipelines.engine.customers import customers_flow, customers_from_frame, plan_customers
from omnisync_pipelines.sandbox.scenario import ean13
from omnisync_pipelines.store import warehouse
from omnisync_pipelines.store.crosswalk import Crosswalk

CT_LARGEST_PAGE = 500  # commercetools query limit
CURRENCY = "EUR"  # of the base prices the naive catalog push writes (the bench world's stores sell in EUR)


def catalog_snapshots(pos: str) -> tuple[tuple[str, str], ...]:
    return (CT, "catalog"), (CT, "prices"), (pos, "catalog"), (pos, "prices"), (pos, "locations")


# catalog ---------------------------------------------------------------------------------------
async def catalog_run(rig: WorldRig, *, delta: bool) -> dict:
    pos = rig.pos
    for system, entity in catalog_snapshots(pos):
        await rig.snapshot(system, entity, delta=delta)
    options = rig.config.catalog
    locations = _with_countries(locations_from_frame(warehouse.read_table(rig.con, pos, "locations")), rig.config)
    rows, rejections = plan_catalog(rig.con, pos, locations, tax_classes=options.tax_classes,
                                    customer_groups=options.customer_groups, variant_attributes=options.variant_attributes)
    flow = catalog_flow(pos)
    settle_unplanned(rig.ops, flow, set(rows["sku"]) if len(rows) else set())
    if not len(rows):
        return {"planned": 0, "applied": 0, "rejected": len(rejections)}
    async with rig.connector(pos) as connector:
        target = build_catalog_target(connector, rig.config)
        target.expect(rows, *pos_rows_of(rig.con, pos, list(rows["sku"])))
        stats = await push_catalog(rows, target, rig.ops, pos_system=pos)
    return {"planned": len(rows), "applied": stats.applied, "rejected": len(rejections), "failed": stats.failed}


async def change_catalog(rig: WorldRig, rate: float) -> set[str]:
    """The catalog team edits commercetools: in turn a base price (changed in place, as the Merchant
    Center does), a barcode, and (once enough are asked for) one product's name, which changes all
    its variants. Returns the changed SKUs."""
    variants = rig.world.variants
    wanted = max(1, round(rate * len(variants)))
    step = max(1, len(variants) // wanted)
    renamed = None if wanted < 12 else variants[-1].product_key
    changed = {v.sku for v in variants if v.product_key == renamed}
    picks = []
    for variant in variants[::step]:
        if len(changed) >= wanted:
            break
        if variant.sku not in changed:
            picks.append(variant)
            changed.add(variant.sku)
    async with rig.raw(CT) as http:
        token = (await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(rig.secrets[CT]["client_id"], rig.secrets[CT]["client_secret"]))).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        project = rig.config.systems.commercetools.project_key
        for key in dict.fromkeys([*(v.product_key for v in picks), *([renamed] if renamed else [])]):
            product = (await http.get(f"/{project}/products/key={key}", headers=headers)).json()
            actions = [{"action": "changeName", "name": {"en": "Product renamed"}, "staged": False}] if key == renamed else []
            for n, variant in enumerate(picks):
                if variant.product_key == key:
                    actions.append(_price_change(product, variant) if n % 2 == 0 else
                                   {"action": "setAttribute", "sku": variant.sku, "name": "gtin", "staged": False,
                                    "value": ean13(f"5{n:08d}990")})
            response = await http.post(f"/{project}/products/{product['id']}", headers=headers,
                                       json={"version": product["version"], "actions": actions})
            response.raise_for_status()
    return changed


def _price_change(product: dict, variant) -> dict:
    data = product["masterData"]["current"]
    found = next(v for v in [data["masterVariant"], *data["variants"]] if v["sku"] == variant.sku)
    price = next(p for p in found["prices"] if p["value"]["currencyCode"] == "EUR" and not p.get("channel"))
    value = {"currencyCode": "EUR", "centAmount": price["value"]["centAmount"] + 100}
    return {"action": "changePrice", "priceId": price["id"], "staged": False, "price": {"value": value, "country": "DE"}}


async def naive_catalog_push(rig: WorldRig) -> None:
    """Every commercetools SKU written to the POS as one product update (name, SKU, barcode, base
    price), after reading what addressing them needs: the POS connector's bench support sends it."""
    desired = warehouse.read_table(rig.con, CT, "catalog")
    prices = warehouse.read_table(rig.con, CT, "prices")
    base = {r.sku: r.amount for r in prices.itertuples() if r.currency == CURRENCY and _blank(r.location_key)
            and _blank(r.customer_group)}
    async with rig.connector(rig.pos) as connector:
        await connector_bench(rig.pos).naive_catalog_push(connector, desired, base, CURRENCY)


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or value == ""


# customers -------------------------------------------------------------------------------------
async def customers_run(rig: WorldRig, *, delta: bool) -> dict:
    pos = rig.pos
    for system in (pos, CT):
        await rig.snapshot(system, "customers", delta=delta)
    crosswalk = Crosswalk(rig.ops)
    result = plan_customers(customers_from_frame(warehouse.read_table(rig.con, pos, "customers")),
                            customers_from_frame(warehouse.read_table(rig.con, CT, "customers")),
                            pos_system=pos, links=crosswalk.mapping("customer"), options=sync_options(rig.config))
    crosswalk.link_many(result.links.to_dict("records"))
    out = {}
    for source, target_system in ((pos, CT), (CT, pos)):
        flow = customers_flow(source, target_system)
        writes = result.for_flow(flow)
        settle_unplanned(rig.ops, flow, set(writes["source_id"]) if len(writes) else set())
        if not len(writes):
            out[target_system] = {"planned": 0, "applied": 0}
            continue
        async with rig.connector(target_system) as connector:
            stats = await push_customers(writes, build_customer_target(connector), rig.ops, source_system=source)
        out[target_system] = {"planned": len(writes), "applied": stats.applied, "failed": stats.failed}
    return out


async def change_customers(rig: WorldRig, rate: float) -> dict[str, set[str]]:
    """Shoppers change details: every n-th one a new first name in their online account
    (commercetools), another n-th one a new loyalty card at the till (the POS's bench hook)."""
    shoppers = rig.world.shoppers
    wanted = max(1, round(rate * len(shoppers)))
    step = max(1, len(shoppers) // wanted)
    project = rig.config.systems.commercetools.project_key
    changed: dict[str, set[str]] = {CT: set(), rig.pos: set()}
    async with rig.raw(CT) as http:
        token = (await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=(rig.secrets[CT]["client_id"], rig.secrets[CT]["client_secret"]))).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for shopper in shoppers[::step][:wanted]:
            current = (await http.get(f"/{project}/customers/key=web-{shopper.key}", headers=headers)).json()
            response = await http.post(f"/{project}/customers/{current['id']}", headers=headers, json={
                "version": current["version"], "actions": [{"action": "setFirstName", "firstName": "Annika"}]})
            response.raise_for_status()
            changed[CT].add(shopper.key)
    async with rig.raw(rig.pos) as http:
        for shopper in shoppers[step // 2::step][:wanted]:
            await rig.hooks.change_loyalty(http, rig.emulators[rig.pos], shopper.email, f"LOY-NEW-{shopper.key}")
            changed[rig.pos].add(shopper.key)
    return changed


async def naive_customer_push(rig: WorldRig) -> None:
    """Every customer known to both sides written to each once: its commercetools-owned fields to the
    POS (one write each, by the POS connector's bench support), its POS-owned loyalty id to
    commercetools (one update each, at the version the paged read gave). Each side is read once, in
    its largest pages: that read addresses the writes to it and is the source of the writes to the
    other side."""
    support = connector_bench(rig.pos)
    async with rig.connector(rig.pos) as pos_connector, rig.connector(CT) as ct_connector:
        pos = {normalise_email(r.get("email")): r for r in await support.naive_read_customers(pos_connector)}
        ct = {normalise_email(r.get("email")): r
              async for r in ct_connector.client.iter_query("customers", page_size=CT_LARGEST_PAGE)}
        pairs = [(pos[email], ct[email]) for email in pos if email and email in ct]
        await support.naive_write_customers(pos_connector, [
            (p["id"], {"email": c["email"], "first_name": c.get("firstName"), "last_name": c.get("lastName")})
            for p, c in pairs])
        type_id = await build_customer_target(ct_connector).ensure_type()
        for p, c in pairs:
            await ct_connector.client.update("customers", c["id"], c["version"], [
                {"action": "setCustomType", "type": {"typeId": "type", "id": type_id},
                 "fields": {"loyaltyId": p["loyalty_id"]}}])


async def measure_catalog(products: int, stores: int, rate: float, pos: str) -> dict:
    rig = await open_world_rig(bench_world(products, stores, customers=0), pos)
    try:
        initial = await catalog_run(rig, delta=False)
        await catalog_run(rig, delta=True)  # the next scheduled run: reads back what the push wrote, plans nothing
        changed = await change_catalog(rig, rate)
        rig.reset_meters()
        before = _budget(rig)
        run = await catalog_run(rig, delta=True)
        delta = _counts(rig, pos, before)
        rig.reset_meters()
        before = _budget(rig)
        await naive_catalog_push(rig)
        return {"records": len(rig.world.variants), "changed": changed, "initial": initial, "run": run,
                "delta": delta, "naive": _counts(rig, pos, before)}
    finally:
        await rig.aclose()


async def measure_customers(customers: int, rate: float, pos: str) -> dict:
    rig = await open_world_rig(bench_world(1, 1, customers=customers), pos)
    try:
        initial = await customers_run(rig, delta=False)
        await customers_run(rig, delta=True)  # the next scheduled run: reads back what the push wrote
        changed = await change_customers(rig, rate)
        rig.reset_meters()
        before = _budget(rig)
        run = await customers_run(rig, delta=True)
        delta = {system: _counts(rig, system, before) for system in (CT, pos)}
        rig.reset_meters()
        before = _budget(rig)
        await naive_customer_push(rig)
        naive = {system: _counts(rig, system, before) for system in (CT, pos)}
        return {"records": customers, "changed": changed, "initial": initial, "run": run, "delta": delta, "naive": naive}
    finally:
        await rig.aclose()


def _counts(rig: WorldRig, system: str, since: dict | None = None) -> dict:
    """What `system` was sent since the meters were reset; for the POS also what its budget counted
    (`budget_units`: units or requests charged since `since`, the budget as `_budget` read it then)."""
    meters = rig.meters[system]
    counts = {"writes": meters.writes, "calls": meters.total, "calls_by_kind": dict(meters.calls),
              "throttled_429": meters.statuses.get(429, 0), "emulator_s": round(meters.seconds["emulator"], 3)}
    if system == rig.pos and since is not None:
        now = _budget(rig)
        counts |= {"budget_unit": now["unit"], "budget_units": round(now["used"] - since["used"], 2),
                   "refused_by_budget": (now["refused"] or 0) - (since["refused"] or 0),
                   "budget_wait_s": round(now["waited_s"] - since["waited_s"], 1)}
    return counts


def _budget(rig: WorldRig) -> dict:
    """The POS budget's running totals: what it charged and refused, and the waits the rig's clock skipped."""
    budget = rig.hooks.budget(rig.emulators[rig.pos])
    return {"unit": budget.unit, "used": budget.used, "refused": budget.throttled,
            "waited_s": rig.clock.skipped_s if rig.clock else 0.0}
