"""Redaction: secrets never reach a log line; emails and phone numbers are masked, other data kept."""

import json

import pytest

from omnisync_pipelines.rest.redact import (
    MASK,
    mask_text,
    redact_body,
    redact_headers,
    redact_url,
    redact_value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ann@example.com", "a***@example.com"),
        ("mail ann.lee+x@shop.co.uk now", "mail a***@shop.co.uk now"),
        ("call +49 30 1234567", "call ***"),
        ("(555) 123-4567", "***"),
        ("030 123 4567", "***"),
        ("Bearer abc.def-ghi", "Bearer ***"),
        ("2024-05-02T10:00:00.000Z", "2024-05-02T10:00:00.000Z"),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("POS-BER-000123", "POS-BER-000123"),
        ("TEE-S", "TEE-S"),
    ],
)
def test_mask_text(text, expected):
    assert mask_text(text) == expected


def test_redact_headers():
    out = redact_headers({"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "application/json"})
    assert out == {"Authorization": MASK, "X-Api-Key": MASK, "Accept": "application/json"}


def test_redact_url_masks_secret_params_and_userinfo():
    url = redact_url("https://user:pw@api.example.com/p?access_token=abc&limit=5&email=ann@example.com")
    assert "abc" not in url and "pw" not in url and "ann@" not in url
    assert "limit=5" in url and url.startswith("https://api.example.com/p?")


def test_redact_body_json_walks_nested_keys():
    body = {
        "access_token": "tok",
        "client_secret": "s",
        "customer": {"email": "Ann@Example.com", "phone": "12345", "firstName": "Ann"},
        "lines": [{"sku": "TEE-S", "note": "ring +49 170 1234567"}],
        "totalPrice": {"centAmount": 1999},
    }
    text = redact_body(json.dumps(body))
    parsed = json.loads(text)
    assert parsed["access_token"] == MASK and parsed["client_secret"] == MASK
    assert parsed["customer"] == {"email": "A***@Example.com", "phone": MASK, "firstName": MASK}
    assert parsed["lines"][0] == {"sku": "TEE-S", "note": "ring ***"}
    assert parsed["totalPrice"]["centAmount"] == 1999


def test_shopper_names_birth_dates_and_street_addresses_are_masked_product_names_are_not():
    ct_customer = {"firstName": "Ann", "lastName": "Smith", "dateOfBirth": "1990-02-03",
                   "addresses": [{"streetName": "Hauptstr.", "streetNumber": "5", "postalCode": "10115",
                                  "city": "Berlin", "country": "DE"}]}
    xs_customer = {"first_name": "Ann", "last_name": "Smith", "date_of_birth": "1990-02-03",
                   "physical_address_1": "Hauptstr. 5", "physical_postcode": "10115", "customer_code": "C-1"}
    product = {"name": "Tee red", "variant_name": "Tee red / S", "sku": "TEE-RED-S"}
    text = redact_body({"ct": ct_customer, "xs": xs_customer, "product": product})
    for personal in ("Ann", "Smith", "1990-02-03", "Hauptstr", "10115"):
        assert personal not in text
    parsed = json.loads(text)
    assert parsed["product"] == product
    assert parsed["ct"]["addresses"][0]["country"] == "DE" and parsed["xs"]["customer_code"] == "C-1"


def test_redact_body_form_and_truncation():
    assert "s3cr3t" not in redact_body("grant_type=client_credentials&client_secret=s3cr3t")
    long = redact_body({"x": "a" * 5000}, max_chars=100)
    assert len(long) < 130 and long.endswith("chars)")
    assert redact_body(None) is None and redact_body(b"") is None


def test_a_large_body_is_redacted_as_far_as_it_is_logged_and_says_about_how_much_was_cut():
    body = {"variables": {f"c{i}": {"email": f"ann{i}@example.com", "firstName": "Ann"} for i in range(500)}}
    text = redact_body(body, max_chars=300)
    full = json.dumps(redact_value(body), ensure_ascii=False, separators=(",", ":"))
    assert text.startswith(full[:300]) and "Ann" not in text and "ann0@" not in text
    cut = int(text.rsplit("(+", 1)[1].removesuffix(" chars)"))
    assert abs(cut - (len(full) - 300)) < 0.2 * len(full)  # counted on the unredacted body
