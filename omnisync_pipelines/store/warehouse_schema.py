"""The declared schema of every DuckDB warehouse table: ordered columns, DuckDB types, comments.

`warehouse.replace_table` / `upsert_table` / `replace_location_rows` create a declared table from
its declaration (so a table written while empty has the same types as a full one), cast each frame
column to its declared type, migrate a table an older version wrote with other types, and put the
comments below on the table and its columns (`duckdb_tables()` / `duckdb_columns()`, `comment`).

Type rules: timestamps TIMESTAMPTZ (UTC), counts, quantities and money in minor units BIGINT,
lists VARCHAR[], flags BOOLEAN, dates DATE; free text, ids, JSON documents and comma lists the
flows read back as text are VARCHAR.

Where a table lives:
- snapshots `<system>.<entity>` for commercetools and every POS: one declaration per entity,
  applied to any system schema (the schemas not in RESERVED_SCHEMAS); column types from the pandera
  schemas in `canonical/schemas.py`.
- plan/push tables per flow: declared by the flow's name pattern, `{pos}` standing for any POS id.
- reconciliation, drift, availability and ops tables: declared by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from omnisync_pipelines.canonical import schemas

TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"
BIGINT, VARCHAR, BOOLEAN, DOUBLE, DATE, VARCHAR_LIST = "BIGINT", "VARCHAR", "BOOLEAN", "DOUBLE", "DATE", "VARCHAR[]"

# schemas that hold flows, reconciliation and copies; every other schema is a system's snapshots
RESERVED_SCHEMAS = frozenset({"plan", "push", "reconciliation", "drift", "ops", "availability"})


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str


@dataclass(frozen=True)
class TableSchema:
    comment: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _table(comment: str, *columns: tuple[str, str, str]) -> TableSchema:
    return TableSchema(comment, tuple(Column(*c) for c in columns))


# snapshots ---------------------------------------------------------------------------------------

_PANDERA_TYPES = {"str": VARCHAR, "int64": BIGINT, "Int64": BIGINT, "bool": BOOLEAN, "boolean": BOOLEAN,
                  "datetime64[ns, UTC]": TIMESTAMPTZ}

SNAPSHOT_TABLE_COMMENTS = {
    "locations": "Snapshot of the system's stores / supply channels (canonical, pandera-checked), one row per location.",
    "catalog": "Snapshot of the system's catalog (canonical, pandera-checked), one row per SKU.",
    "prices": "Snapshot of the system's prices (canonical, pandera-checked), one row per price.",
    "stock": "Snapshot of the system's stock counts (canonical, pandera-checked), one row per SKU x location.",
    "stock_movements": "Snapshot of the POS's stock movements (sales, returns, adjustments), one row per movement.",
    "orders": "Snapshot of the system's orders (POS: store sales), one row per order (canonical, pandera-checked).",
    "order_lines": "Snapshot of the lines of the orders in <system>.orders, one row per line.",
    "order_payments": "Snapshot of the payments (and refunds) of the orders in <system>.orders, one row per payment.",
    "returns": "Snapshot of the system's returns, one row per return (canonical, pandera-checked).",
    "return_lines": "Snapshot of the lines of the returns in <system>.returns, one row per line.",
    "customers": "Snapshot of the system's customers (canonical, pandera-checked), one row per customer.",
}

_SNAPSHOT_COMMENTS = {
    "system": "System id the row was read from (commercetools or a POS id).",
    "sku": "Stock-keeping unit: the key every system shares for a variant.",
    "location_key": "omnisync location key (config locations[].key); None when the system's location is not mapped.",
    "system_id": "The system's own id of the record.",
    "currency": "ISO 4217 currency code.",
    "country": "ISO 3166 country code.",
    "updated_at": "When the system last changed the record (UTC).",
    "created_at": "When the record was created in the system (UTC).",
    "active": "Whether the record is active in the system.",
    "name": "Display name.",
    "order_id": "The system's id of the order.",
    "return_id": "The system's id of the return.",
    "line_id": "The system's id of the line within its order or return.",
    "quantity": "Units (signed for a movement: negative takes stock out).",
}

_ENTITY_COMMENTS: dict[str, dict[str, str]] = {
    "locations": {"location_key": "omnisync location key (config locations[].key); None when not mapped."},
    "catalog": {
        "product_key": "Key of the product the variant belongs to.",
        "attributes": "Variant attributes as JSON text.",
        "barcode": "Barcode (GTIN / EAN / UPC) of the variant.",
        "tax_category": "Tax category / class of the item.",
        "supply_price": "Supply (cost) price in minor units; None when unknown.",
    },
    "prices": {
        "amount": "Price in minor units of `currency`.",
        "location_key": "Store the price is scoped to; None for a price valid everywhere.",
        "customer_group": "Customer group the price is scoped to; None for every customer.",
        "valid_from": "Start of the price's validity (UTC); None when always valid.",
        "valid_until": "End of the price's validity (UTC, exclusive); None when open-ended.",
    },
    "stock": {
        "on_hand": "Units physically at the location (the count the stock flow syncs).",
        "reserved": "Units reserved at the location.",
        "available": "Units available to sell (on_hand minus reserved, as the system reports it).",
        "system_version": "The system's version of the count (X-Series version, commercetools entry version): "
                          "the delta cursor orders on it.",
        "updated_at": "When the system last changed the count (UTC).",
    },
    "stock_movements": {
        "movement_id": "The system's id of the movement.",
        "kind": "sale | return | adjustment | transfer | ... (canonical MovementKind).",
        "source_ref": "The document the movement came from (sale, return, adjustment id).",
        "occurred_at": "When the movement happened (UTC).",
    },
    "orders": {
        "order_number": "Order number (commercetools orderNumber; POS: sale number).",
        "channel": "online | store (canonical OrderChannel).",
        "total_gross": "Order total including tax, minor units.",
        "total_tax": "Tax total, minor units.",
        "total_discount": "Discount total, minor units.",
        "status": "The system's order state.",
        "location_key": "Store of the order; None for an online order without one.",
        "customer_ref": "The system's id of the customer.",
        "customer_email": "The customer's email on the order.",
        "fulfilment": "click_and_collect | ship_from_store | None (canonical Fulfilment).",
        "shipping_method_name": "Shipping method name.",
        "shipping_method_key": "Shipping method key.",
        "shipping_price": "Shipping price, minor units.",
        "shipping_tax": "Tax on shipping, minor units.",
        "rounding": "Till rounding in minor units (total minus the till's unit prices rounded x quantity); 0 when none.",
        "pos_sale_id": "The POS sale the order was imported from (custom.fields.posSaleId); None otherwise.",
    },
    "order_lines": {
        "unit_price": "Unit price, minor units.",
        "discount": "Line discount, minor units.",
        "tax": "Line tax, minor units.",
        "total": "Line total, minor units.",
    },
    "order_payments": {
        "payment_id": "The system's id of the payment or transaction.",
        "method": "Payment method (canonical PaymentMethod).",
        "amount": "Amount in minor units (negative for a refund).",
        "reference": "Reference of the payment (commercetools interactionId: the POS return id for a refund).",
    },
    "returns": {
        "refund_total": "Total refunded, minor units.",
        "original_order_ref": "Reference to the original sale or order.",
        "location_key": "Store the return was made at.",
        "reason_code": "The system's return reason code.",
    },
    "return_lines": {
        "quantity": "Units returned.",
        "refund_amount": "Refund of the line, minor units.",
        "original_line_ref": "The original order line.",
        "restock": "Whether the units go back on the shelf.",
    },
    "customers": {
        "customer_id": "The system's id of the customer.",
        "email": "Email address (the first matching key).",
        "first_name": "First name.",
        "last_name": "Last name.",
        "phone": "Phone number (private by default: never synced).",
        "external_id": "External id (e.g. the other system's id or a CRM id).",
        "loyalty_id": "Loyalty card / member id.",
        "consent_marketing": "Marketing consent; None when unknown.",
    },
}


def _snapshot(entity: str) -> TableSchema:
    record_cls, model = schemas.REGISTRY[entity]
    pandera_columns = model.to_schema().columns
    columns = []
    for name in record_cls.columns():
        dtype = str(pandera_columns[name].dtype)
        comment = _ENTITY_COMMENTS.get(entity, {}).get(name) or _SNAPSHOT_COMMENTS.get(name)
        if comment is None:
            raise ValueError(f"snapshot column {entity}.{name} has no comment")
        columns.append(Column(name, _PANDERA_TYPES[dtype], comment))
    return TableSchema(SNAPSHOT_TABLE_COMMENTS[entity], tuple(columns))


SNAPSHOTS: dict[str, TableSchema] = {entity: _snapshot(entity) for entity in schemas.REGISTRY}


# reconciliation and drift ------------------------------------------------------------------------

_CHECKED_AT = ("checked_at", TIMESTAMPTZ, "When both systems were read for this comparison (UTC).")
_POS_SYSTEM = ("pos_system", VARCHAR, "The POS the store trades on (system id).")

_STOCK_COLUMNS = (
    ("sku", VARCHAR, "Stock-keeping unit."),
    ("location_key", VARCHAR, "omnisync location key (store)."),
    ("commercetools_on_hand", BIGINT, "commercetools quantityOnStock of the store's supply channel; None when no entry."),
    _POS_SYSTEM,
    ("pos_on_hand", BIGINT, "POS count (on hand); None when the POS has no count."),
    ("difference", BIGINT, "commercetools − POS (units)."),
    ("in_flight_units", BIGINT, "POS changes not yet pushed (units)."),
    ("status", VARCHAR, "match / explained = the difference is exactly what is in flight / drift."),
    _CHECKED_AT,
    ("velocity_daily_units", DOUBLE, "Recent sales per day of the SKU at the store (0 when unknown)."),
    ("unit_price", BIGINT, "Unit price in minor units of `currency`, the store's own currency; None when unknown (unpriced)."),
    ("value_minor", BIGINT, "|difference| × unit_price, minor units of `currency`; None when the price is unknown."),
    ("currency", VARCHAR, "ISO 4217 currency of unit_price and value_minor: the store's currency"),
    ("above_threshold", BOOLEAN, "A drift row above the configured thresholds (units, velocity days, value)."),
)
_RUN_ID = ("run_id", VARCHAR, "Dagster run id of the reconciliation run.")

_ORDERS_COLUMNS = (
    _POS_SYSTEM,
    ("pos_order_id", VARCHAR, "POS sale id; None when missing_in_pos."),
    ("pos_order_number", VARCHAR, "POS sale number; None when missing_in_pos."),
    ("commercetools_order_id", VARCHAR, "commercetools order id; None when missing in commercetools."),
    ("commercetools_order_number", VARCHAR, "commercetools orderNumber; None when missing in commercetools."),
    ("location_key", VARCHAR, "omnisync location key (store)."),
    ("currency", VARCHAR, "ISO 4217 currency of the amounts."),
    ("pos_total_gross", BIGINT, "POS sale gross total, minor units."),
    ("commercetools_total_gross", BIGINT, "commercetools order gross total, minor units."),
    ("pos_total_tax", BIGINT, "POS sale tax total, minor units."),
    ("commercetools_total_tax", BIGINT, "commercetools order tax total, minor units."),
    ("pos_payments", BIGINT, "Sum of the POS sale's successful charges, minor units; None when unknown."),
    ("commercetools_payments", BIGINT, "Sum of the order's successful charges, minor units; None when unknown."),
    ("difference", BIGINT, "commercetools gross − POS gross, minor units (a missing side counts 0)."),
    ("tax_difference", BIGINT, "commercetools tax − POS tax, minor units."),
    ("payments_difference", BIGINT, "commercetools payments − POS payments, minor units; None when unknown."),
    ("in_flight", BOOLEAN, "The sale's ledger key is retrying, or it was created after the last push."),
    ("status", VARCHAR, "match / missing_in_commercetools / missing_in_pos / amount_mismatch / explained / rejected: "
                        "an open rejection of the sale, listed even when it could not be mapped and only its id is known."),
    ("reason", VARCHAR, "Why a row is not a match, in words; for rejected the rejections' reasons."),
    _CHECKED_AT,
)

RECONCILIATION: dict[str, TableSchema] = {
    "stock": _table(
        "Per SKU x location (every store, whatever its POS): commercetools on hand vs POS on hand read fresh after the "
        "push; difference (commercetools − POS), in-flight units, status match / explained / drift, sales velocity, "
        "unit price, value and whether it is above the configured threshold.",
        *_STOCK_COLUMNS),
    "orders": _table(
        "One row per POS sale or store-channel order: both sides' gross, tax and payment totals and their differences "
        "(minor units), in_flight, status and reason.",
        *_ORDERS_COLUMNS),
    "returns": _table(
        "One row per POS return: the commercetools order holding it, refund totals and restock units of both sides, "
        "recorded / restock_reflected / refund_reflected, problems, status.",
        _POS_SYSTEM,
        ("return_id", VARCHAR, "POS return id."),
        ("original_order_ref", VARCHAR, "The original sale or order the return refers to."),
        ("location_key", VARCHAR, "omnisync location key (store)."),
        ("currency", VARCHAR, "ISO 4217 currency of the amounts."),
        ("commercetools_order_id", VARCHAR, "The commercetools order holding the return."),
        ("commercetools_order_number", VARCHAR, "orderNumber of the commercetools order holding the return."),
        ("pos_refund_total", BIGINT, "POS refund total, minor units."),
        ("commercetools_refund_total", BIGINT, "Successful commercetools refunds for the return, minor units."),
        ("refund_difference", BIGINT, "commercetools − POS refund, minor units."),
        ("pos_restock_units", BIGINT, "Units the POS put back on the shelf."),
        ("commercetools_back_in_stock_units", BIGINT, "Units of the return that are BackInStock in commercetools."),
        ("recorded", BOOLEAN, "The return is recorded (returnInfo) on the original commercetools order."),
        ("restock_reflected", BOOLEAN, "commercetools back-in-stock units equal the POS restock units."),
        ("refund_reflected", BOOLEAN, "commercetools refunds equal the POS refund total."),
        ("problems", VARCHAR_LIST,
         "Every problem of the return: not_recorded, restock_not_reflected, refund_missing, refund_mismatch (empty: none)."),
        ("status", VARCHAR, "match / missing_in_commercetools / restock_not_reflected / refund_missing / refund_mismatch "
                            "(the first problem) / explained (not a match, return in flight)."),
        _CHECKED_AT,
    ),
    "customers": _table(
        "One row per customer issue (per POS): missing_in_commercetools / missing_in_pos / duplicate_suspect / "
        "field_mismatch, both ids, field, both values, owner, wrong_side (by field ownership), duplicate_of, rule, "
        "score, status.",
        _POS_SYSTEM,
        ("issue", VARCHAR, "missing_in_commercetools / missing_in_pos / duplicate_suspect / field_mismatch."),
        ("pos_customer_id", VARCHAR, "POS customer id."),
        ("commercetools_customer_id", VARCHAR, "commercetools customer id."),
        ("email", VARCHAR, "Email of the customer."),
        ("field", VARCHAR, "The field that disagrees (field_mismatch)."),
        ("pos_value", VARCHAR, "The POS value of the field, as text (field_mismatch)."),
        ("commercetools_value", VARCHAR, "The commercetools value of the field, as text (field_mismatch)."),
        ("owner", VARCHAR, "pos / commercetools: the side that owns the field (customers.ownership); None when unowned."),
        ("wrong_side", VARCHAR, "The side that is wrong by field ownership (the one that does not own the field)."),
        ("duplicate_of", VARCHAR, "duplicate_suspect within one system: the other customer id of that system."),
        ("rule", VARCHAR, "Duplicate rule: same_email / same_external_id / same_name_phone."),
        ("score", DOUBLE, "Duplicate score."),
        ("held", BOOLEAN, "An unmatched customer named in a duplicate row (or the duplicate): waits for an operator."),
        ("status", VARCHAR, "drift (an owned field disagrees after the sync) / missing_in_commercetools / missing_in_pos "
                            "/ held (waits for an operator) / unowned (no owner: nothing syncs the field) / explained "
                            "(the customer's write is in flight)."),
        _CHECKED_AT,
    ),
    "stock_discrepancies": _table(
        "Stock decreases that would have taken commercetools below zero (typically a store's offline sales arriving "
        "late) and what stock.negative_stock_policy did: went_negative, clamped, held / released.",
        ("idempotency_key", VARCHAR, "Ledger key of the stock movement."),
        ("sku", VARCHAR, "Stock-keeping unit."),
        ("location_key", VARCHAR, "omnisync location key (store)."),
        ("policy", VARCHAR, "stock.negative_stock_policy: allow_negative_and_report / clamp_to_zero_and_report / "
                            "hold_for_review."),
        ("outcome", VARCHAR, "went_negative (units below zero) / clamped (units not applied) / held / released."),
        ("discrepancy_units", BIGINT, "Units below zero (went_negative) or not applied (clamped)."),
        ("quantity_before", BIGINT, "commercetools quantity before the movement; None when unknown."),
        ("delta", BIGINT, "The movement's change in units."),
        ("status", VARCHAR, "Ledger / rejected status of the movement: applied, held, released."),
        ("updated_at", TIMESTAMPTZ, "When the ledger or rejected row was last updated (UTC)."),
    ),
}

DRIFT: dict[str, TableSchema] = {
    "stock_history": _table(
        "Every stock discrepancy (status drift) of every reconciliation run: the reconciliation.stock row plus "
        "run_id, checked_at.",
        *_STOCK_COLUMNS, _RUN_ID),
    "orders_history": _table(
        "Every order discrepancy (status neither match nor explained) of every reconciliation run: the "
        "reconciliation.orders row plus run_id, checked_at.",
        *_ORDERS_COLUMNS, _RUN_ID),
    "stock_runs": _table(
        "One row per stock reconciliation run (clean runs too, so a streak of drift ends when a run finds none).",
        _RUN_ID,
        ("checked_at", TIMESTAMPTZ, "When the run read both systems (UTC)."),
        ("rows", BIGINT, "SKU x location rows compared."),
        ("match", BIGINT, "Rows with status match."),
        ("explained", BIGINT, "Rows with status explained."),
        ("drift", BIGINT, "Rows with status drift."),
        ("above_threshold", BIGINT, "Drift rows above the configured thresholds."),
    ),
}

AVAILABILITY: dict[str, TableSchema] = {
    "sellable_stock": _table(
        "Per SKU x store (every store, whatever its POS): what the storefront may sell: on hand − reserved − safety "
        "stock, and the aggregate channels the store counts toward.",
        ("sku", VARCHAR, "Stock-keeping unit."),
        ("location_key", VARCHAR, "omnisync location key (store)."),
        ("pos_on_hand", BIGINT, "POS count."),
        ("set_aside", BIGINT, "Units set aside for assigned pickups / ship-from-store orders (already off the POS count)."),
        ("pending", BIGINT, "Units of open orders not yet assigned."),
        ("on_hand", BIGINT, "Units physically there: POS count + set aside."),
        ("reserved", BIGINT, "set_aside + pending."),
        ("safety_stock", BIGINT, "Configured safety stock (per SKU or location)."),
        ("sellable", BIGINT, "max(0, on_hand − reserved − safety_stock)."),
        ("channels", VARCHAR_LIST, "The aggregate supply channels (availability.channels) the store counts toward."),
    ),
}


# operational store copies ------------------------------------------------------------------------

OPS: dict[str, TableSchema] = {
    "ledger": _table(
        "Copy of the operational ledger: every write omnisync made or attempted, one row per idempotency key.",
        ("idempotency_key", VARCHAR, "Deterministic key of the write (flow|system|record|version)."),
        ("flow", VARCHAR, "Flow that made the write (e.g. stock_<pos>_to_commercetools)."),
        ("target_system", VARCHAR, "System written to."),
        ("source_system", VARCHAR, "System the change came from."),
        ("record_ref", VARCHAR, "The record written (e.g. SKU@location, sale id, customer id)."),
        ("status", VARCHAR, "retrying (sent or about to be, outcome unknown) / applied / rejected / superseded."),
        ("attempts", BIGINT, "Attempts made."),
        ("payload", VARCHAR, "What was sent (JSON)."),
        ("result", VARCHAR, "What came back (JSON)."),
        ("error", VARCHAR, "Last error."),
        ("created_at", TIMESTAMPTZ, "When the write was first recorded (UTC)."),
        ("updated_at", TIMESTAMPTZ, "When the row last changed (UTC)."),
    ),
    "rejected": _table(
        "Copy of the rejected records: records that could not be mapped or applied, with field and reason.",
        ("id", BIGINT, "Rejection id (omnisync rejected retry/release --id)."),
        ("flow", VARCHAR, "Flow (or snapshot) that rejected the record."),
        ("system", VARCHAR, "System the record belongs to."),
        ("entity", VARCHAR, "Entity of the record (orders, catalog, customers, ...)."),
        ("record_ref", VARCHAR, "The record's id."),
        ("field", VARCHAR, "The field at fault."),
        ("reason", VARCHAR, "Why it was rejected, in words."),
        ("payload", VARCHAR, "The record as read (JSON)."),
        ("idempotency_key", VARCHAR, "Ledger key of the write, when there was one."),
        ("status", VARCHAR, "open / held (waiting for an operator) / retry / resolved / released / dismissed."),
        ("attempts", BIGINT, "Times the record was rejected."),
        ("created_at", TIMESTAMPTZ, "First rejected (UTC)."),
        ("updated_at", TIMESTAMPTZ, "Last changed (UTC)."),
    ),
    "api_calls": _table(
        "Copy of the API call log: every API call with method, path, status, latency, attempt, correlation id and "
        "redacted bodies.",
        ("id", BIGINT, "Call id."),
        ("system", VARCHAR, "System called."),
        ("method", VARCHAR, "HTTP method."),
        ("path", VARCHAR, "Request path."),
        ("status", BIGINT, "HTTP status; None when no answer came."),
        ("latency_ms", BIGINT, "Latency in milliseconds."),
        ("attempt", BIGINT, "Attempt number (1 = first try)."),
        ("correlation_id", VARCHAR, "Correlation id sent with the call."),
        ("error", VARCHAR, "Transport or API error."),
        ("request_body", VARCHAR, "Request body, redacted."),
        ("response_body", VARCHAR, "Response body, redacted."),
        ("created_at", TIMESTAMPTZ, "When the call was made (UTC)."),
    ),
    "cursors": _table(
        "Copy of the sync cursors: where each delta read resumes, with the evidence of the run that advanced it.",
        ("name", VARCHAR, "Cursor name (<system>/<entity>)."),
        ("value", VARCHAR, "Where the next delta read resumes (version, timestamp, log id)."),
        ("evidence", VARCHAR, "The run that advanced it: mode, records, run_id (JSON)."),
        ("updated_at", TIMESTAMPTZ, "When it was advanced (UTC)."),
    ),
    "stock_baseline": _table(
        "Copy of the stock baselines: the last POS count per SKU x location whose change reached commercetools.",
        ("source_system", VARCHAR, "POS the count is of."),
        ("sku", VARCHAR, "Stock-keeping unit."),
        ("location_key", VARCHAR, "omnisync location key (store)."),
        ("level", BIGINT, "The POS count whose change reached commercetools."),
        ("version", BIGINT, "The POS version of that count."),
        ("last_key", VARCHAR, "Ledger key of the write that moved it."),
        ("updated_at", TIMESTAMPTZ, "When it moved (UTC)."),
    ),
    "crosswalk": _table(
        "Copy of the id crosswalk: each system's id of a customer (or other entity) and the canonical id it maps to.",
        ("entity", VARCHAR, "Entity (customer, ...)."),
        ("system", VARCHAR, "System of the id."),
        ("system_id", VARCHAR, "The system's id."),
        ("canonical_id", VARCHAR, "omnisync's canonical id of the record."),
        ("created_at", TIMESTAMPTZ, "When the link was made (UTC)."),
    ),
}


# plans and pushes, by flow name ------------------------------------------------------------------

_KEY = ("idempotency_key", VARCHAR, "Deterministic idempotency key of the write (its ledger row).")
_LEDGER_STATUS = ("status", VARCHAR, "This run's outcome per key (the ledger status: applied, rejected, retrying, ...).")
_POS = r"[a-z][a-z0-9_]*"

_STOCK_PLAN = _table(
    "Stock POS → commercetools: one row per (SKU, location) whose POS count moved: key, POS level and version, "
    "baseline, expected delta, kind.",
    _KEY,
    ("source_system", VARCHAR, "POS the count comes from."),
    ("sku", VARCHAR, "Stock-keeping unit."),
    ("location_key", VARCHAR, "omnisync location key (store)."),
    ("pos_level", BIGINT, "POS count."),
    ("pos_version", BIGINT, "POS version of the count; None for a correction."),
    ("baseline_level", BIGINT, "Last POS count that reached commercetools; None before the first sync."),
    ("expected_delta", BIGINT, "Units the push moves commercetools by."),
    ("kind", VARCHAR, "initial (first sync of the count) / level_change (the POS count moved past the baseline)."),
)
_SALES_PLAN = _table(
    "The POS records (sales or returns) this run would push, each with its idempotency key and what the ledger "
    "already knows of it.",
    ("record_id", VARCHAR, "POS sale or return id."),
    _KEY,
    ("ledger_status", VARCHAR, "What the ledger knows of the key (None: never sent)."),
    ("action", VARCHAR, "import (the push sends it) / already_applied (the ledger has it applied)."),
)
_CUSTOMER_PLAN = _table(
    "Customer writes of one direction: creates and updates of the fields the source owns, one row per write.",
    _KEY,
    ("flow", VARCHAR, "customers_<from>_to_<to>."),
    ("source_system", VARCHAR, "System the values come from."),
    ("target_system", VARCHAR, "System written to."),
    ("source_id", VARCHAR, "Source customer id."),
    ("target_id", VARCHAR, "Target customer id; None for a create."),
    ("canonical_id", VARCHAR, "Crosswalk id of the pair."),
    ("action", VARCHAR, "create / update."),
    ("changes", VARCHAR, "Changed fields, comma-separated."),
    ("desired", VARCHAR, "JSON {field: new value}."),
    ("previous", VARCHAR, "JSON {field: old value} ({} for a create)."),
    ("source_version", VARCHAR, "The source record's updated_at (ISO) or '-'."),
)

PLAN_PUSH: dict[tuple[str, str], TableSchema] = {
    ("plan", f"stock_(?P<pos>{_POS})_to_commercetools"): _STOCK_PLAN,
    ("push", f"stock_(?P<pos>{_POS})_to_commercetools"): _table(
        "This run's outcome per key of plan.stock_<pos>_to_commercetools.",
        _KEY,
        ("sku", VARCHAR, "Stock-keeping unit."),
        ("location_key", VARCHAR, "omnisync location key (store)."),
        ("expected_delta", BIGINT, "Units commercetools was moved by."),
        _LEDGER_STATUS,
    ),
    ("plan", f"catalog_commercetools_to_(?P<pos>{_POS})"): _table(
        "Catalog and prices commercetools → POS: one row per valid SKU whose item or prices differ at the POS, with its "
        "whole desired state and its idempotency key.",
        _KEY,
        ("source_system", VARCHAR, "commercetools."),
        ("sku", VARCHAR, "Stock-keeping unit."),
        ("action", VARCHAR, "create / update."),
        ("changes", VARCHAR, "What differs, comma-separated."),
        ("desired", VARCHAR, "The desired item (JSON)."),
        ("prices", VARCHAR, "The desired prices per location and price book (JSON)."),
        ("pos_system_id", VARCHAR, "The POS's id of the item; None for a create."),
        ("desired_hash", VARCHAR, "Hash of the desired state (part of the key)."),
    ),
    ("push", f"catalog_commercetools_to_(?P<pos>{_POS})"): _table(
        "This run's outcome per key of plan.catalog_commercetools_to_<pos>.",
        _KEY, ("sku", VARCHAR, "Stock-keeping unit."), ("action", VARCHAR, "create / update."), _LEDGER_STATUS,
    ),
    ("plan", f"customers_(?P<pos>{_POS})_duplicate_suspects"): _table(
        "Likely duplicate customers (same email twice, one external id claimed twice, same name and phone under "
        "different emails): reported, never merged.",
        ("left_system", VARCHAR, "System of the first customer."),
        ("left_id", VARCHAR, "Id of the first customer."),
        ("right_system", VARCHAR, "System of the second customer."),
        ("right_id", VARCHAR, "Id of the second customer."),
        ("rule", VARCHAR, "same_email / same_external_id / same_name_phone."),
        ("score", DOUBLE, "Duplicate score."),
    ),
    ("plan", f"customers_commercetools_to_(?P<pos>{_POS})"): _CUSTOMER_PLAN,
    ("plan", f"customers_(?P<pos>{_POS})_to_commercetools"): _CUSTOMER_PLAN,
    ("push", f"customers_commercetools_to_(?P<pos>{_POS})"): _table(
        "This run's outcome per key of the customer plan of the same name.",
        _KEY, ("source_id", VARCHAR, "Source customer id."), ("action", VARCHAR, "create / update."), _LEDGER_STATUS,
    ),
    ("push", f"customers_(?P<pos>{_POS})_to_commercetools"): _table(
        "This run's outcome per key of the customer plan of the same name.",
        _KEY, ("source_id", VARCHAR, "Source customer id."), ("action", VARCHAR, "create / update."), _LEDGER_STATUS,
    ),
    ("plan", f"orders_(?P<pos>{_POS})_to_commercetools"): _SALES_PLAN,
    ("plan", f"returns_(?P<pos>{_POS})_to_commercetools"): _SALES_PLAN,
    ("push", f"orders_(?P<pos>{_POS})_to_commercetools"): _table(
        "This run's outcome per POS sale imported as a commercetools order.",
        ("order_id", VARCHAR, "POS sale id."), _KEY, _LEDGER_STATUS,
    ),
    ("push", f"returns_(?P<pos>{_POS})_to_commercetools"): _table(
        "This run's outcome per POS return recorded on its original commercetools order.",
        ("return_id", VARCHAR, "POS return id."), _KEY, _LEDGER_STATUS,
    ),
    ("plan", f"fulfilment_commercetools_to_(?P<pos>{_POS})"): _table(
        "Open commercetools orders for click-and-collect or ship-from-store: lines, the store the shopper chose and "
        "its fallbacks, and whether the order is already assigned (ledger) or still to assign.",
        _KEY,
        ("order_id", VARCHAR, "commercetools order id."),
        ("order_number", VARCHAR, "commercetools orderNumber."),
        ("fulfilment", VARCHAR, "click_and_collect / ship_from_store."),
        ("requested_location", VARCHAR, "The store the shopper chose."),
        ("candidates", VARCHAR, "Stores to try in order (JSON list)."),
        ("lines", VARCHAR, "[[sku, quantity], ...] (JSON)."),
        ("status", VARCHAR, "assigned (the ledger has it applied) / assigned_elsewhere (a fallback store has it) / to_assign."),
    ),
    ("push", f"fulfilment_commercetools_to_(?P<pos>{_POS})"): _table(
        "This run's assignment of each open store-fulfilment order after a live stock check.",
        ("order_id", VARCHAR, "commercetools order id."),
        ("order_number", VARCHAR, "commercetools orderNumber."),
        ("fulfilment", VARCHAR, "click_and_collect / ship_from_store."),
        ("requested_location", VARCHAR, "The store the shopper chose."),
        ("location_key", VARCHAR, "The store assigned; None when none can serve it."),
        ("status", VARCHAR, "assigned / rerouted / exception (no store can serve it) / failed."),
        ("reason", VARCHAR, "Why it was not assigned, in words."),
        ("pos_sale_id", VARCHAR, "The register sale setting the goods aside."),
        ("lines", VARCHAR, "[[sku, quantity], ...] (JSON)."),
    ),
    ("push", f"fulfilment_status_(?P<pos>{_POS})_to_commercetools"): _table(
        "POS fulfilment states (pickup ready / collected, dispatched, voided) written back as commercetools order and "
        "shipment states.",
        ("order_id", VARCHAR, "commercetools order id."),
        ("order_number", VARCHAR, "commercetools orderNumber."),
        ("location_key", VARCHAR, "The assigned store."),
        ("pos_sale_id", VARCHAR, "The POS sale of the assignment."),
        ("fulfilment", VARCHAR, "click_and_collect / ship_from_store."),
        ("pos_status", VARCHAR, "The POS sale's fulfilment state."),
        ("order_state", VARCHAR, "commercetools orderState written."),
        ("shipment_state", VARCHAR, "commercetools shipmentState written."),
        ("units", BIGINT, "Units of the order."),
        ("lines", VARCHAR, "[[sku, quantity], ...] (JSON)."),
        ("outcome", VARCHAR, "This run's outcome: in_sync / updated / unknown_status / order_not_found."),
    ),
    ("plan", "availability_to_commercetools"): _table(
        "Per SKU x aggregate supply channel (config availability.channels): the units the storefront may sell there, "
        "the sum of the sellable stock of the stores that count toward it.",
        ("sku", VARCHAR, "Stock-keeping unit."),
        ("channel_key", VARCHAR, "Aggregate supply channel key."),
        ("target", BIGINT, "Units the channel's inventory entry should hold."),
    ),
    ("push", "availability_to_commercetools"): _table(
        "This run's outcome per aggregate channel entry written (relative change from the entry's current quantity).",
        _KEY,
        ("sku", VARCHAR, "Stock-keeping unit."),
        ("channel_key", VARCHAR, "Aggregate supply channel key."),
        ("target", BIGINT, "Units the entry should hold."),
        ("current", BIGINT, "Units the entry held; None when there was no entry."),
        ("delta", BIGINT, "Relative change written."),
        _LEDGER_STATUS,
    ),
}
_PLAN_PUSH_PATTERNS = [(schema, re.compile(f"^{pattern}$"), table) for (schema, pattern), table in PLAN_PUSH.items()]

FIXED: dict[str, dict[str, TableSchema]] = {
    "reconciliation": RECONCILIATION, "drift": DRIFT, "availability": AVAILABILITY, "ops": OPS,
}


def declared(schema: str, table: str) -> TableSchema | None:
    """The declaration of schema.table; None when the table is not declared."""
    if schema in FIXED:
        return FIXED[schema].get(table)
    if schema in ("plan", "push"):
        return next((t for s, pattern, t in _PLAN_PUSH_PATTERNS if s == schema and pattern.match(table)), None)
    if schema in RESERVED_SCHEMAS:
        return None
    return SNAPSHOTS.get(table)

