from __future__ import annotations

import pytest

from mercato.pricing import AddressInvalid, validate_address

BASE = {"name": "Ada Lovelace", "line1": "1 Main St", "city": "Springfield"}


@pytest.mark.parametrize(("country", "raw", "normalized"), [
    ("US", "94105", "94105"), ("US", "94105-1234", "94105-1234"),
    ("CA", "k1a0b1", "K1A 0B1"), ("GB", "sw1a1aa", "SW1A 1AA"), ("GB", "EC1A 1BB", "EC1A 1BB"),
    ("DE", "10115", "10115"), ("FR", "75001", "75001"), ("JP", "1000001", "100-0001"),
    ("NL", "1012ab", "1012 AB"), ("AU", "2000", "2000"), ("BR", "01310-100", "01310-100"),
])
def test_valid_postal_codes_are_normalized(country: str, raw: str, normalized: str) -> None:
    a = validate_address({**BASE, "country": country.lower(), "postal_code": raw})
    assert a.postal_code == normalized and a.country == country


@pytest.mark.parametrize(("country", "raw"), [
    ("US", "9410"), ("US", "ABCDE"), ("CA", "D1A 0B1"), ("GB", "12345"), ("DE", "1011"), ("FR", "7500A"),
    ("JP", "10-0001"), ("NL", "0123 AB"), ("AU", "20000"), ("BR", "!!"),
])
def test_invalid_postal_codes_are_rejected(country: str, raw: str) -> None:
    with pytest.raises(AddressInvalid) as exc:
        validate_address({**BASE, "country": country, "postal_code": raw})
    assert [e["field"] for e in exc.value.extra["errors"]] == ["postal_code"]
    assert exc.value.extra["errors"][0]["code"] == "invalid_postal_code"


def test_every_field_error_is_reported_at_once() -> None:
    with pytest.raises(AddressInvalid) as exc:
        validate_address({"country": "XX", "phone": "123"}, prefix="shipping_address")
    fields = {(e["field"], e["code"]) for e in exc.value.extra["errors"]}
    assert fields == {("shipping_address.country", "invalid_country"), ("shipping_address.name", "required"),
                      ("shipping_address.line1", "required"), ("shipping_address.city", "required"),
                      ("shipping_address.postal_code", "required"), ("shipping_address.phone", "invalid_phone")}
    problem = exc.value.to_problem()
    assert problem["status"] == 422 and problem["code"] == "address_invalid" and len(problem["errors"]) == 6


def test_phone_becomes_e164_and_region_code_is_checked() -> None:
    a = validate_address({**BASE, "country": "US", "postal_code": "94105", "region": "ca", "phone": "(415) 555-0132"})
    assert a.phone == "+14155550132" and a.region == "CA"
    with pytest.raises(AddressInvalid) as exc:
        validate_address({**BASE, "country": "US", "postal_code": "94105", "region": "ZZ"})
    assert exc.value.extra["errors"][0]["code"] == "invalid_region"


def test_postal_code_optional_where_the_country_has_none() -> None:
    assert validate_address({**BASE, "country": "HK"}).postal_code == ""
