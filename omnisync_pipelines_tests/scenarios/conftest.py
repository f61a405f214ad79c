"""Go-live scenarios: a running sandbox per test module (both emulators over sockets, a small seeded
world), real Dagster runs, and helpers that read the final state of both systems and the ledger."""

from datetime import timedelta

import dagster as dg
import duckdb
import httpx
import pandas as pd
import pytest
import yaml

from omnisync_pipelines.demo import _emulator
from omnisync_pipelines.runs import run_job
from omnisync_pipelines.sandbox.loader import _Till
from omnisync_pipelines.sandbox.loader_commercetools import CommercetoolsLoader
from omnisync_pipelines.store.ops import OpsStore
from omnisync_pipelines_tests.defs.conftest import Sandbox, running_sandbox


class Scenario:
    """The sandbox plus what a scenario does to it and reads back."""

    def __init__(self, box: Sandbox, instance: dg.DagsterInstance):
        self.box, self.instance = box, instance
        self.world, self.loaded, self.lsx, self.ct = box.world, box.loaded, box.lsx, box.ct
        self.clock = self.world.start + timedelta(days=5, hours=9)
        self.counter = 0

    # acting --------------------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self.counter += 1
        self.clock += timedelta(minutes=3)
        return f"s-{prefix}-{self.counter:03d}"

    def till(self, *events) -> None:
        async def play():
            async with httpx.AsyncClient(base_url=self.box.server.base_url("lightspeed_x"), timeout=30) as lsx:
                till = _Till(self.loaded, lsx, _emulator(self.box.server, "lightspeed_x"))
                for event in events:
                    await till.handle(event)

        self.box.server.run(play())

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
        self.lsx.store.set_stock(self.loaded.product_ids[sku], self.loaded.outlet_ids[store], level)

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
        return int(self.lsx.store.inventory_row(self.loaded.product_ids[sku], self.loaded.outlet_ids[store])["inventory_level"])

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
        return [s for s in self.lsx.store.rows["sales"].values() if all(s.get(k) == v for k, v in match.items())]

    def ledger(self, flow: str | None = None) -> pd.DataFrame:
        frame = self.ops.table_frame("ledger")
        return frame[frame["flow"] == flow] if flow else frame

    def open_rejections(self) -> pd.DataFrame:
        return self.ops.rejected_frame("open")

    def reconciliation(self) -> dict[str, int]:
        return self.query("SELECT status, count(*) AS n FROM reconciliation.stock GROUP BY status").set_index(
            "status")["n"].to_dict()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    with running_sandbox(tmp_path_factory.mktemp("scenario")) as box, dg.instance_for_test() as instance:
        yield Scenario(box, instance)
