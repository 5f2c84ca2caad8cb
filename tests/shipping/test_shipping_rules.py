"""Which zones serve an address; what a method costs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.platform.errors import ValidationFailed
from mercato.shipping.domain import check_method, method_price, zone_serves


@dataclass
class Z:
    countries: list[str]
    regions: list[str] = field(default_factory=list)


@dataclass
class M:
    rate_type: str
    flat_rate_cents: int | None = None
    brackets: list[dict[str, Any]] = field(default_factory=list)
    free_above_cents: int | None = None
    currency: str = "USD"
    is_active: bool = True


def test_zones() -> None:
    assert zone_serves(Z(["US", "CA"]), "us", None)
    assert not zone_serves(Z(["US"]), "DE", None)
    west = Z(["US"], ["CA", "US-OR"])
    assert zone_serves(west, "US", "CA") and zone_serves(west, "US", "OR") and zone_serves(west, "US", "US-CA")
    assert not zone_serves(west, "US", "NY") and not zone_serves(west, "US", None)


WEIGHT = M("weight", brackets=[{"up_to": 1000, "rate_cents": 500}, {"up_to": 5000, "rate_cents": 900}])


def test_prices() -> None:
    assert method_price(M("flat", 799), weight_grams=10**6, subtotal=1) == 799
    assert method_price(WEIGHT, weight_grams=1000, subtotal=0) == 500
    assert method_price(WEIGHT, weight_grams=1001, subtotal=0) == 900
    assert method_price(WEIGHT, weight_grams=5001, subtotal=0) is None  # too heavy: not offered
    open_ended = M("subtotal", brackets=[{"up_to": 4999, "rate_cents": 700}, {"up_to": None, "rate_cents": 300}])
    assert method_price(open_ended, weight_grams=0, subtotal=10**9) == 300
    free = M("free_above", 599, free_above_cents=5000)
    assert method_price(free, weight_grams=0, subtotal=4999) == 599
    assert method_price(free, weight_grams=0, subtotal=5000) == 0
    assert method_price(M("flat", 500, is_active=False), weight_grams=0, subtotal=0) is None


@given(st.integers(0, 10**7), st.integers(0, 10**9))
def test_free_above_threshold_is_free_for_any_rate_type(weight: int, subtotal: int) -> None:
    m = M("weight", brackets=[{"up_to": None, "rate_cents": 1234}], free_above_cents=10_000)
    assert method_price(m, weight_grams=weight, subtotal=subtotal) == (0 if subtotal >= 10_000 else 1234)


def test_definitions() -> None:
    check_method({"rate_type": "flat", "flat_rate_cents": 0})
    for bad in ({"rate_type": "flat"}, {"rate_type": "free_above", "flat_rate_cents": 1},
                {"rate_type": "weight", "brackets": []},
                {"rate_type": "weight", "brackets": [{"up_to": None, "rate_cents": 1}, {"up_to": 5, "rate_cents": 1}]},
                {"rate_type": "weight", "brackets": [{"up_to": 5, "rate_cents": 1}, {"up_to": 5, "rate_cents": 2}]},
                {"rate_type": "flat", "flat_rate_cents": 1, "min_delivery_days": 5, "max_delivery_days": 2}):
        with pytest.raises(ValidationFailed):
            check_method(bad)
