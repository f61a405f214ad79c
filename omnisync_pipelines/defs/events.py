"""Event-driven sync: the `event_sync` job, the inbox sensor, and the commercetools messages poll.

The inbox sensor's cursor is the last inbox id it turned into a run. Each tick reads the events
after it (only those received at least `OMNISYNC_INBOX_SETTLE_S` ago, see `Inbox.after`), cuts
them into batches of at most `OMNISYNC_EVENT_BATCH` events and requests one `event_sync` run per
batch, keyed `inbox:<first id>-<last id>`: Dagster never launches a run key twice, and the sensor
also skips a key the instance already holds, so a batch never runs twice even if the cursor is lost.
Each run spans every known location partition of the stock flow (the stores are registered when a
full or delta sync is launched).
"""

import json
import os

import dagster as dg

from omnisync_pipelines.defs.jobs import SYNC_SELECTION, every_location_tags
from omnisync_pipelines.defs.resources import CommercetoolsCredentials, OmnisyncResource
from omnisync_pipelines.defs.runtime import with_connector
from omnisync_pipelines.defs.specs import MODE_TAG
from omnisync_pipelines.defs.targets import EVENT_BATCH_TAG, target_tags
from omnisync_pipelines.engine.fast_lane import stock_items_of_events
from omnisync_pipelines.store.inbox import Inbox
from omnisync_pipelines.webhooks.polling import poll_commercetools_messages

RUN_KEY_TAG = "dagster/run_key"
DEFAULT_BATCH = 200
DEFAULT_SETTLE_S = 5.0
MAX_BATCHES_PER_TICK = 10

event_sync = dg.define_asset_job(
    "event_sync",
    selection=SYNC_SELECTION,
    tags={MODE_TAG: "delta"},
    description="A delta sync about what a batch of webhook events named: the stock plan keeps only the SKUs of "
    "the POS products in the events, the sales and returns pushes only the named sales, the customer pushes only "
    "the named customers (run tags omnisync/pos_products, omnisync/sales, omnisync/customers); the rest waits "
    "for the next delta_sync.",
)


def batch_targets(events: list[dict]) -> dict[str, str]:
    """Run tags naming the products, sales and customers a batch of inbox events is about."""
    sales, customers = set(), set()
    for event in events:
        try:
            payload = json.loads(event["payload"])
        except ValueError:
            continue
        if not isinstance(payload, dict):
            continue
        kind, system = event["event_type"], event["system"]
        if system == "commercetools":
            resource = payload.get("resource") or {}
            kind = resource.get("typeId", "")
            object_id = resource.get("id")
        else:
            object_id = payload.get("id")
        if object_id and kind.startswith(("sale", "order")):
            sales.add(f"{system}:{object_id}")
        elif object_id and kind.startswith("customer"):
            customers.add(f"{system}:{object_id}")
    return target_tags(stock_items_of_events(events), sales, customers)


def _already_requested(context: dg.SensorEvaluationContext, run_key: str) -> bool:
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a context built without an instance
        return False
    return bool(instance.get_run_ids(dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1))


def _every_location(context: dg.SensorEvaluationContext) -> dict[str, str]:
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:  # a context built without an instance: a run about every store
        return {}
    return every_location_tags(instance)


@dg.sensor(job=event_sync, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED)
def inbox_sensor(context: dg.SensorEvaluationContext, omnisync: OmnisyncResource) -> dg.SensorResult:
    """One targeted event_sync run per batch of new webhook-inbox events (cursor: last inbox id)."""
    after = int(context.cursor or 0)
    batch_size = int(os.environ.get("OMNISYNC_EVENT_BATCH", DEFAULT_BATCH))
    settle_s = float(os.environ.get("OMNISYNC_INBOX_SETTLE_S", DEFAULT_SETTLE_S))
    events = Inbox(omnisync.ops_store()).after(after, limit=batch_size * MAX_BATCHES_PER_TICK, settle_s=settle_s)
    if not events:
        return dg.SensorResult(skip_reason=f"no inbox events after id {after} (settled {settle_s:g}s)", cursor=str(after))
    requests, skipped = [], []
    every_location = _every_location(context)
    for start in range(0, len(events), batch_size):
        batch = events[start : start + batch_size]
        span = f"{batch[0]['id']}-{batch[-1]['id']}"
        run_key = f"inbox:{span}"
        if _already_requested(context, run_key):
            skipped.append(run_key)
            continue
        requests.append(dg.RunRequest(run_key=run_key, tags={EVENT_BATCH_TAG: span, **batch_targets(batch), **every_location}))
    cursor = str(events[-1]["id"])
    if not requests:
        return dg.SensorResult(skip_reason=f"events up to id {cursor} already ran: {', '.join(skipped)}", cursor=cursor)
    context.log.info(f"{len(events)} inbox events after id {after} -> {len(requests)} event_sync runs")
    return dg.SensorResult(run_requests=requests, cursor=cursor)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def commercetools_messages_sensor(
    context: dg.SensorEvaluationContext, omnisync: OmnisyncResource, commercetools: CommercetoolsCredentials
) -> dg.SkipReason:
    """Polls commercetools Messages (orders for store fulfilment, customers) since the cursor kept in
    the operational store, into the inbox; the inbox sensor turns them into event_sync runs."""
    ops = omnisync.ops_store()
    outcome = with_connector(
        "commercetools", omnisync.load_config(), commercetools.secrets(), ops,
        lambda connector: poll_commercetools_messages(connector.client, ops),
    )
    context.update_cursor(outcome.cursor)
    return dg.SkipReason(outcome.summary())


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[event_sync], sensors=[inbox_sensor, commercetools_messages_sensor])
