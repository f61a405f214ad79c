"""Go-live scenarios: a running sandbox per test module and POS (commercetools and the POS over
sockets, a small seeded world), real Dagster runs, and helpers that read the final state of both
systems and the ledger. The POS side is read and acted on through its sandbox probe only, so each
scenario runs against every registered POS that has an emulator."""

from datetime import timedelta

import dagster as dg
import duckdb
import httpx
import pandas as pd
import pytest
import yaml

from omnisync_pipelines.demo import play_at_tills
from omnisync_pipelines.runs import run_job
from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.defs.conftest import SANDBOX_POS, Sandbox, running_sandbox


class Scenario:
    """The sandbox plus what a scenario does to it and reads back."""

    def __init__(self, box: Sandbox, instance: dg.DagsterInstance):
        self.box, self.instance = box, instance
        self.pos, self.probe = box.pos, box.probe  # the POS under test, and its state through the sandbox probe
        self.world, self.loaded, self.ct = box.world, box.loaded, box.ct
        self.clock = self.world.start + timedelta(days=5, hours=9)
        self.counter = 0

    # acting --------------------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self.counter += 1
        self.clock += timedelta(minutes=3)
        return f"s-{prefix}-{self.counter:03d}"

    def till(self, *events) -> None:
        """Sales, returns, adjustments, ... rung up at the stores' tills, in order."""
        self.box.server.run(play_at_tills(list(events), self.loaded, self.box.server))

    def storefront(self, order) -> dict:
        async def place():
            async with httpx.AsyncClient(base_url=self.box.server.base_url("commercetools"), timeout=30) as ct:
                return await CommercetoolsLoader(ct, self.loaded.ct_credentials, self.loaded.channel_ids).online_order(
                    order, self.world)

        return self.box.server.run(place())

    def ct_back_office(self, sku: str, store: str, units: int) -> int:
        async def edit():
            async with httpx.AsyncClient(base_url=self.box.server.base_url("commercetools"), timeout=30) as ct:
                return await CommercetoolsLoader(ct, self.loaded.ct_credentials, self.loaded.channel_ids
                                                 ).clerk_adjusts_inventory(sku, store, units)

        return self.box.server.run(edit())

    def ct_post(self, path: str, body: dict) -> dict:
        """A write by someone else in commercetools (merchant center, storefront), over the public API."""

        async def post():
            async with httpx.AsyncClient(base_url=self.box.server.base_url("commercetools"), timeout=30) as ct:
                return await CommercetoolsLoader(ct, self.loaded.ct_credentials)._post(path, body)

        return self.box.server.run(post())

    def set_pos_count(self, sku: str, store: str, level: int) -> None:
        """Staff count the shelf and key the count in at the POS."""
        self.probe.set_count(sku, store, level)

    def fulfil(self, sale_id: str, status: str) -> None:
        """At the till: the shopper collects (picked_up), staff ship (dispatched) or void (cancelled)."""
        self.probe.fulfil(sale_id, status)

    def configure(self, **sections) -> None:
        path = self.box.data_dir / "omnisync.yaml"
        config = yaml.safe_load(path.read_text())
        config.update(sections)
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    def sync(self, job: str = "delta_sync"):
        outcome = run_job(job, instance=self.instance)
        assert outcome.success, outcome.summary()
        return outcome

    # reading -------------------------------------------------------------------------------------
    @property
    def ops(self) -> OpsStore:
        return OpsStore.from_url(self.box.env["OMNISYNC_OPS_URL"])

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.box.data_dir / "omnisync.duckdb"), read_only=True) as con:
            return con.execute(sql, params or []).df()

    def pos_count(self, sku: str, store: str) -> int:
        return self.probe.count(sku, store)

    def ct_count(self, sku: str, store_or_channel: str) -> int | None:
        channel_id = self.loaded.channel_ids.get(store_or_channel) or self.channel_id(store_or_channel)
        entry = next((e for e in self.ct.store.all("inventory-entry")
                      if e["sku"] == sku and (e.get("supplyChannel") or {}).get("id") == channel_id), None)
        return None if entry is None else entry["quantityOnStock"]

    def channel_id(self, key: str) -> str | None:
        return next((c["id"] for c in self.ct.store.all("channel") if c.get("key") == key), None)

    def ct_order(self, order_number: str) -> dict | None:
        return next((o for o in self.ct.store.all("order") if o.get("orderNumber") == order_number), None)

    def ct_order_of_sale(self, event_id: str) -> dict | None:
        sale_id = self.loaded.sale_ids[event_id]
        return next((o for o in self.ct.store.all("order")
                     if ((o.get("custom") or {}).get("fields") or {}).get("posSaleId") == sale_id), None)

    def ct_payments(self, order: dict) -> list[dict]:
        ids = [p["id"] for p in (order.get("paymentInfo") or {}).get("payments") or []]
        return [self.ct.store.get("payment", i) for i in ids]

    def pos_sales(self, **match) -> list[dict]:
        """Sale views of the POS (`PosProbe`): id, store, status (canonical for online orders), order_id, receipt."""
        return self.probe.sales(**match)

    def pos_snapshot(self, table: str) -> str:
        """The POS's snapshot table in DuckDB (its schema is the POS's id)."""
        return f"{self.pos}.{table}"

    def ledger(self, flow: str | None = None) -> pd.DataFrame:
        frame = self.ops.table_frame("ledger")
        return frame[frame["flow"] == flow] if flow else frame

    def open_rejections(self) -> pd.DataFrame:
        return self.ops.rejected_frame("open")

    def reconciliation(self) -> dict[str, int]:
        return self.query("SELECT status, count(*) AS n FROM reconciliation.stock GROUP BY status").set_index(
            "status")["n"].to_dict()


@pytest.fixture(scope="module", params=SANDBOX_POS)
def scenario(tmp_path_factory, request):
    with running_sandbox(tmp_path_factory.mktemp(f"scenario-{request.param}"), pos=request.param) as box, \
            dg.instance_for_test() as instance:
        yield Scenario(box, instance)
