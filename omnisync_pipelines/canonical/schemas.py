"""One pandera model per canonical entity: the single registry that snapshot checks are built from.

Column names match the dataclasses in `models.py`. A snapshot frame is built with
`frame_from_records(entity, records)`, which also fixes the dtypes the schemas expect.
"""

from __future__ import annotations

import typing

import pandas as pd
import pandera.pandas as pa
from pandera.typing.pandas import Series

from omnisync_pipelines.canonical import models

UTC_TS = pd.DatetimeTZDtype(tz="UTC")
CURRENCY = r"^[A-Z]{3}$"


class LocationSchema(pa.DataFrameModel):
    system: Series[str]
    location_key: Series[str] = pa.Field(nullable=True)
    system_id: Series[str] = pa.Field(unique=True)
    name: Series[str]
    currency: Series[str] = pa.Field(nullable=True, str_matches=CURRENCY)
    country: Series[str] = pa.Field(nullable=True)
    active: Series[bool]


class CatalogItemSchema(pa.DataFrameModel):
    system: Series[str]
    sku: Series[str] = pa.Field(str_length={"min_value": 1}, unique=True)
    product_key: Series[str] = pa.Field(nullable=True)
    name: Series[str]
    system_id: Series[str]
    attributes: Series[str]
    barcode: Series[str] = pa.Field(nullable=True)
    tax_category: Series[str] = pa.Field(nullable=True)
    active: Series[bool]
    updated_at: Series[UTC_TS] = pa.Field(nullable=True)
    supply_price: Series[pd.Int64Dtype] = pa.Field(nullable=True, ge=0)


class PriceSchema(pa.DataFrameModel):
    system: Series[str]
    sku: Series[str] = pa.Field(str_length={"min_value": 1})
    currency: Series[str] = pa.Field(str_matches=CURRENCY)
    amount: Series[int] = pa.Field(ge=0)
    system_id: Series[str]
    country: Series[str] = pa.Field(nullable=True)
    location_key: Series[str] = pa.Field(nullable=True)
    customer_group: Series[str] = pa.Field(nullable=True)
    valid_from: Series[UTC_TS] = pa.Field(nullable=True)
    valid_until: Series[UTC_TS] = pa.Field(nullable=True)


class StockLevelSchema(pa.DataFrameModel):
    system: Series[str]
    sku: Series[str] = pa.Field(str_length={"min_value": 1})
    location_key: Series[str]
    on_hand: Series[int]
    reserved: Series[int] = pa.Field(ge=0)
    available: Series[int]
    system_id: Series[str]
    system_version: Series[int] = pa.Field(ge=0)
    updated_at: Series[UTC_TS] = pa.Field(nullable=True)

    @pa.dataframe_check
    def one_row_per_sku_and_location(cls, df: pd.DataFrame) -> Series[bool]:
        return ~df.duplicated(["sku", "location_key"], keep=False)


class StockMovementSchema(pa.DataFrameModel):
    movement_id: Series[str] = pa.Field(unique=True)
    system: Series[str]
    sku: Series[str] = pa.Field(str_length={"min_value": 1})
    location_key: Series[str]
    quantity: Series[int] = pa.Field(ne=0)
    kind: Series[str] = pa.Field(isin=[k.value for k in models.MovementKind])
    source_ref: Series[str]
    occurred_at: Series[UTC_TS]


class OrderSchema(pa.DataFrameModel):
    system: Series[str]
    order_id: Series[str] = pa.Field(unique=True)
    order_number: Series[str]
    channel: Series[str] = pa.Field(isin=[c.value for c in models.OrderChannel])
    currency: Series[str] = pa.Field(str_matches=CURRENCY)
    total_gross: Series[int]
    total_tax: Series[int]
    total_discount: Series[int] = pa.Field(ge=0)
    status: Series[str]
    created_at: Series[UTC_TS]
    location_key: Series[str] = pa.Field(nullable=True)
    customer_ref: Series[str] = pa.Field(nullable=True)
    customer_email: Series[str] = pa.Field(nullable=True)
    fulfilment: Series[str] = pa.Field(nullable=True, isin=[f.value for f in models.Fulfilment])
    updated_at: Series[UTC_TS] = pa.Field(nullable=True)
    shipping_method_name: Series[str] = pa.Field(nullable=True)
    shipping_method_key: Series[str] = pa.Field(nullable=True)
    shipping_price: Series[int] = pa.Field(ge=0)
    shipping_tax: Series[int] = pa.Field(ge=0)
    rounding: Series[int]
    pos_sale_id: Series[str] = pa.Field(nullable=True)


class OrderLineSchema(pa.DataFrameModel):
    system: Series[str]
    order_id: Series[str]
    line_id: Series[str]
    sku: Series[str] = pa.Field(str_length={"min_value": 1})
    quantity: Series[int]
    unit_price: Series[int] = pa.Field(ge=0)
    discount: Series[int] = pa.Field(ge=0)
    tax: Series[int]
    total: Series[int]


class PaymentSchema(pa.DataFrameModel):
    system: Series[str]
    order_id: Series[str]
    payment_id: Series[str]
    method: Series[str] = pa.Field(isin=[m.value for m in models.PaymentMethod])
    amount: Series[int]
    currency: Series[str] = pa.Field(str_matches=CURRENCY)
    reference: Series[str] = pa.Field(nullable=True)


class ReturnSchema(pa.DataFrameModel):
    system: Series[str]
    return_id: Series[str] = pa.Field(unique=True)
    currency: Series[str] = pa.Field(str_matches=CURRENCY)
    refund_total: Series[int] = pa.Field(ge=0)
    created_at: Series[UTC_TS]
    original_order_ref: Series[str] = pa.Field(nullable=True)
    location_key: Series[str] = pa.Field(nullable=True)
    reason_code: Series[str] = pa.Field(nullable=True)


class ReturnLineSchema(pa.DataFrameModel):
    system: Series[str]
    return_id: Series[str]
    line_id: Series[str]
    sku: Series[str] = pa.Field(str_length={"min_value": 1})
    quantity: Series[int] = pa.Field(gt=0)
    refund_amount: Series[int] = pa.Field(ge=0)
    original_line_ref: Series[str] = pa.Field(nullable=True)
    restock: Series[bool]


class CustomerSchema(pa.DataFrameModel):
    system: Series[str]
    customer_id: Series[str] = pa.Field(unique=True)
    email: Series[str] = pa.Field(nullable=True, str_matches=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    first_name: Series[str] = pa.Field(nullable=True)
    last_name: Series[str] = pa.Field(nullable=True)
    phone: Series[str] = pa.Field(nullable=True)
    external_id: Series[str] = pa.Field(nullable=True)
    loyalty_id: Series[str] = pa.Field(nullable=True)
    consent_marketing: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    updated_at: Series[UTC_TS] = pa.Field(nullable=True)


# entity name -> (record class, schema). Entity names are the second part of snapshot asset keys.
REGISTRY: dict[str, tuple[type[models.Record], type[pa.DataFrameModel]]] = {
    "locations": (models.Location, LocationSchema),
    "catalog": (models.CatalogItem, CatalogItemSchema),
    "prices": (models.Price, PriceSchema),
    "stock": (models.StockLevel, StockLevelSchema),
    "stock_movements": (models.StockMovement, StockMovementSchema),
    "orders": (models.Order, OrderSchema),
    "order_lines": (models.OrderLine, OrderLineSchema),
    "order_payments": (models.Payment, PaymentSchema),
    "returns": (models.Return, ReturnSchema),
    "return_lines": (models.ReturnLine, ReturnLineSchema),
    "customers": (models.Customer, CustomerSchema),
}

_TIME_COLUMNS = {"updated_at", "valid_from", "valid_until", "occurred_at", "created_at"}
_NULLABLE_BOOL_COLUMNS = {"consent_marketing"}
_NULLABLE_INT_COLUMNS = {"supply_price"}


def frame_from_records(entity: str, records: list) -> pd.DataFrame:
    """A frame with the entity's columns in order and the dtypes its schema expects."""
    record_cls, _ = REGISTRY[entity]
    columns = record_cls.columns()
    rows = [r.to_row() if isinstance(r, models.Record) else r for r in records]
    frame = pd.DataFrame(rows, columns=columns)
    hints = typing.get_type_hints(record_cls)
    for column in columns:
        if not rows and hints[column] in (int, bool):
            frame[column] = frame[column].astype("int64" if hints[column] is int else "bool")
        elif column in _TIME_COLUMNS:
            frame[column] = pd.to_datetime(frame[column], utc=True)
        elif column in _NULLABLE_BOOL_COLUMNS:
            frame[column] = frame[column].astype("boolean")
        elif column in _NULLABLE_INT_COLUMNS:
            frame[column] = frame[column].astype("Int64")
        elif frame[column].dtype == object:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def validate(entity: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate lazily: raises pandera's SchemaErrors listing every failure case."""
    _, schema = REGISTRY[entity]
    return schema.validate(frame, lazy=True)
