"""The canonical schemas accept what a correct connector produces and refuse, naming the column,
what a buggy one would: fractions of a unit, money in major units, currencies that are not ISO
codes, times without a zone, the same record twice, a column left out."""

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import pandera.errors as pa_errors
import pytest

from omnisync_pipelines.canonical import models, schemas

OPENING = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CLOSING = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
LSX, CT = "lightspeed_x", "commercetools"

# Two well-formed records per entity, as the connectors map them from a Berlin store's day.
WELL_FORMED: dict[str, list[models.Record]] = {
    "locations": [
        models.Location(system=LSX, location_key="berlin", system_id="outlet-1", name="Berlin Mitte",
                        currency="EUR", country="DE"),
        models.Location(system=LSX, location_key=None, system_id="outlet-2", name="Warehouse (unmapped)"),
    ],
    "catalog": [
        models.CatalogItem(system=CT, sku="TEE-BLK-M", product_key="tee", name="Tee black M",
                           system_id="prod-1", attributes='{"colour": "black", "size": "M"}',
                           barcode="4006381333931", updated_at=OPENING),
        models.CatalogItem(system=CT, sku="TEE-BLK-L", product_key="tee", name="Tee black L",
                           system_id="prod-1"),
    ],
    "prices": [
        models.Price(system=CT, sku="TEE-BLK-M", currency="EUR", amount=2999, system_id="price-1",
                     country="DE", valid_from=OPENING),
        models.Price(system=CT, sku="TEE-BLK-M", currency="GBP", amount=2599, system_id="price-2",
                     country="GB", location_key="london", valid_until=CLOSING),
    ],
    "stock": [
        models.StockLevel(system=LSX, sku="TEE-BLK-M", location_key="berlin", on_hand=12, reserved=0,
                          available=12, system_id="inv-1", system_version=40, updated_at=OPENING),
        models.StockLevel(system=LSX, sku="TEE-BLK-M", location_key="london", on_hand=-1, reserved=0,
                          available=-1, system_id="inv-2", system_version=41),
    ],
    "stock_movements": [
        models.StockMovement(movement_id="sale-1/line-1", system=LSX, sku="TEE-BLK-M", location_key="berlin",
                             quantity=-2, kind=models.MovementKind.SALE, source_ref="sale-1",
                             occurred_at=OPENING),
        models.StockMovement(movement_id="cons-7/TEE-BLK-L", system=LSX, sku="TEE-BLK-L",
                             location_key="berlin", quantity=24, kind=models.MovementKind.RECEIVING,
                             source_ref="cons-7", occurred_at=CLOSING),
    ],
    "orders": [
        models.Order(system=LSX, order_id="sale-1", order_number="B-1001", channel=models.OrderChannel.STORE,
                     currency="EUR", total_gross=5398, total_tax=862, total_discount=600, status="CLOSED",
                     created_at=OPENING, location_key="berlin", fulfilment=models.Fulfilment.IN_STORE),
        models.Order(system=CT, order_id="order-9", order_number="WEB-77", channel=models.OrderChannel.ONLINE,
                     currency="GBP", total_gross=2599, total_tax=433, total_discount=0, status="Open",
                     created_at=CLOSING, customer_ref="cust-1", customer_email="ada@example.com",
                     fulfilment=models.Fulfilment.CLICK_AND_COLLECT, updated_at=CLOSING),
    ],
    "order_lines": [
        models.OrderLine(system=LSX, order_id="sale-1", line_id="line-1", sku="TEE-BLK-M", quantity=2,
                         unit_price=2999, discount=600, tax=862, total=5398),
        models.OrderLine(system=CT, order_id="order-9", line_id="li-1", sku="TEE-BLK-M", quantity=1,
                         unit_price=2599, discount=0, tax=433, total=2599),
    ],
    "order_payments": [
        models.Payment(system=LSX, order_id="sale-1", payment_id="pay-1",
                       method=models.PaymentMethod.GIFT_CARD,
                       amount=2000, currency="EUR", reference="GC-123"),
        models.Payment(system=LSX, order_id="sale-1", payment_id="pay-2", method=models.PaymentMethod.CARD,
                       amount=3398, currency="EUR"),
    ],
    "returns": [
        models.Return(system=LSX, return_id="ret-1", currency="EUR", refund_total=2699, created_at=CLOSING,
                      original_order_ref="B-1001", location_key="berlin", reason_code="SIZE"),
        models.Return(system=LSX, return_id="ret-2", currency="GBP", refund_total=0, created_at=CLOSING),
    ],
    "return_lines": [
        models.ReturnLine(system=LSX, return_id="ret-1", line_id="rl-1", sku="TEE-BLK-M", quantity=1,
                          refund_amount=2699, original_line_ref="line-1"),
        models.ReturnLine(system=LSX, return_id="ret-2", line_id="rl-1", sku="TEE-BLK-L", quantity=1,
                          refund_amount=0, restock=False),
    ],
    "customers": [
        models.Customer(system=CT, customer_id="cust-1", email="ada@example.com", first_name="Ada",
                        last_name="Lovelace", loyalty_id="L-1", consent_marketing=True, updated_at=OPENING),
        models.Customer(system=LSX, customer_id="cust-2", email=None),
    ],
}


def offending(errors: pa_errors.SchemaErrors) -> set[str]:
    """What pandera names as the culprit: the column, the missing column, or the frame-wide check."""
    named = set()
    for case in errors.failure_cases.itertuples():
        if case.check == "column_in_dataframe":
            named.add(case.failure_case)
        elif case.schema_context == "Column":
            named.add(case.column)
        else:
            named.add(case.check)
    return named


Breaker = Callable[[str], pd.DataFrame]


def first_record_with(**changes) -> Breaker:
    """The first record changed as a buggy mapper would, framed by the snapshot path itself."""
    def build(entity: str) -> pd.DataFrame:
        first, *rest = WELL_FORMED[entity]
        return schemas.frame_from_records(entity, [dataclasses.replace(first, **changes), *rest])
    return build


def frame_with(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Breaker:
    """The well-formed frame changed after framing (what `frame_from_records` would have normalised)."""
    def build(entity: str) -> pd.DataFrame:
        return change(schemas.frame_from_records(entity, WELL_FORMED[entity]))
    return build


def naive(column: str) -> Breaker:
    return frame_with(lambda f: f.assign(**{column: f[column].dt.tz_localize(None)}))


def first_row_twice(f: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([f, f.iloc[:1]], ignore_index=True)


def dropped(column: str) -> Breaker:
    return frame_with(lambda f: f.drop(columns=[column]))


BAD_FRAMES = [
    # (what went wrong, entity, how the frame was broken, the column or check pandera must name)
    ("half a unit sold", "stock_movements", first_record_with(quantity=-1.5), "quantity"),
    ("half a unit on an order line", "order_lines", first_record_with(quantity=1.5), "quantity"),
    ("half a unit returned", "return_lines", first_record_with(quantity=0.5), "quantity"),
    ("a count with a fraction", "stock", first_record_with(on_hand=2.5), "on_hand"),
    ("price in euros, not cents", "prices", first_record_with(amount=29.99), "amount"),
    ("order total in euros", "orders", first_record_with(total_gross=53.98), "total_gross"),
    ("line price in euros", "order_lines", first_record_with(unit_price=29.99), "unit_price"),
    ("tender in euros", "order_payments", first_record_with(amount=20.0), "amount"),
    ("refund in euros", "returns", first_record_with(refund_total=26.99), "refund_total"),
    ("line refund in euros", "return_lines", first_record_with(refund_amount=26.99), "refund_amount"),
    ("lowercase price currency", "prices", first_record_with(currency="eur"), "currency"),
    ("lowercase order currency", "orders", first_record_with(currency="eur"), "currency"),
    ("lowercase outlet currency", "locations", first_record_with(currency="eur"), "currency"),
    ("lowercase tender currency", "order_payments", first_record_with(currency="gbp"), "currency"),
    ("4-letter refund currency", "returns", first_record_with(currency="EURO"), "currency"),
    ("4-letter price currency", "prices", first_record_with(currency="EURO"), "currency"),
    ("sale time without a zone", "stock_movements", naive("occurred_at"), "occurred_at"),
    ("order time without a zone", "orders", naive("created_at"), "created_at"),
    ("return time without a zone", "returns", naive("created_at"), "created_at"),
    ("product change without a zone", "catalog", naive("updated_at"), "updated_at"),
    ("price start without a zone", "prices", naive("valid_from"), "valid_from"),
    ("customer change without a zone", "customers", naive("updated_at"), "updated_at"),
    ("one SKU twice in the catalog", "catalog", frame_with(first_row_twice), "sku"),
    ("two counts for one SKU in one store", "stock", frame_with(first_row_twice),
     "one_row_per_sku_and_location"),
    ("a movement read twice", "stock_movements", frame_with(first_row_twice), "movement_id"),
    ("an order read twice", "orders", frame_with(first_row_twice), "order_id"),
    ("a return read twice", "returns", frame_with(first_row_twice), "return_id"),
    ("a customer read twice", "customers", frame_with(first_row_twice), "customer_id"),
    ("an outlet read twice", "locations", frame_with(first_row_twice), "system_id"),
    ("catalog without SKUs", "catalog", dropped("sku"), "sku"),
    ("orders without currency", "orders", dropped("currency"), "currency"),
    ("movements without times", "stock_movements", dropped("occurred_at"), "occurred_at"),
    ("tenders without amounts", "order_payments", dropped("amount"), "amount"),
    ("counts without the on-hand figure", "stock", dropped("on_hand"), "on_hand"),
]


def test_every_registered_entity_has_well_formed_records_here():
    assert set(WELL_FORMED) == set(schemas.REGISTRY)


@pytest.mark.parametrize("entity", sorted(schemas.REGISTRY))
def test_well_formed_records_pass_their_schema(entity):
    frame = schemas.frame_from_records(entity, WELL_FORMED[entity])
    validated = schemas.validate(entity, frame)
    assert list(validated.columns) == schemas.REGISTRY[entity][0].columns()
    assert len(validated) == len(WELL_FORMED[entity])


@pytest.mark.parametrize("entity", sorted(schemas.REGISTRY))
def test_an_empty_read_passes_its_schema(entity):
    assert len(schemas.validate(entity, schemas.frame_from_records(entity, []))) == 0


@pytest.mark.parametrize(("entity", "break_frame", "culprit"), [case[1:] for case in BAD_FRAMES],
                         ids=[case[0] for case in BAD_FRAMES])
def test_a_bad_frame_fails_naming_the_offending_column(entity, break_frame, culprit):
    with pytest.raises(pa_errors.SchemaErrors) as failed:
        schemas.validate(entity, break_frame(entity))
    assert offending(failed.value) == {culprit}
