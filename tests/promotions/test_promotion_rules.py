"""Promotion domain rules, without a database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mercato.platform.errors import MercatoError, ValidationFailed
from mercato.promotions.domain import (
    check_applicable,
    check_code,
    check_customer_uses,
    check_definition,
    check_stacking,
    check_valid_now,
    normalize_code,
    to_rule,
)

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@dataclass
class P:
    code: str = "SAVE10"
    kind: str = "percentage_off"
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    percent: Decimal | None = Decimal(10)
    amount_cents: int | None = None
    currency: str | None = None
    product_ids: list[uuid.UUID] = field(default_factory=list)
    category_ids: list[uuid.UUID] = field(default_factory=list)
    buy_quantity: int | None = None
    get_quantity: int | None = None
    minimum_subtotal_cents: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = None
    usage_count: int = 0
    per_customer_limit: int | None = None
    combinable: bool = False
    is_active: bool = True


def code_of(fn, *a, **kw) -> str | None:  # type: ignore[no-untyped-def]
    try:
        fn(*a, **kw)
    except MercatoError as exc:
        return exc.code
    return None


@given(st.text(alphabet="abcXYZ019-_", min_size=2, max_size=20), st.sampled_from(["", " ", "\t"]))
def test_codes_are_case_insensitive(code: str, pad: str) -> None:
    assert normalize_code(pad + code.lower() + pad) == normalize_code(code.upper())


def test_code_format() -> None:
    assert check_code(" summer-25 ") == "SUMMER-25"
    for bad in ("", "x", "has space", "é-accent", "-lead"):
        with pytest.raises(ValidationFailed):
            check_code(bad)


def test_validity_window_and_usage() -> None:
    assert code_of(check_valid_now, P(), NOW) is None
    assert code_of(check_valid_now, P(is_active=False), NOW) == "coupon_invalid"
    assert code_of(check_valid_now, P(starts_at=NOW + timedelta(seconds=1)), NOW) == "coupon_not_started"
    assert code_of(check_valid_now, P(ends_at=NOW), NOW) == "coupon_expired"
    assert code_of(check_valid_now, P(starts_at=NOW, ends_at=NOW + timedelta(days=1)), NOW) is None
    assert code_of(check_valid_now, P(usage_limit=5, usage_count=5), NOW) == "coupon_exhausted"
    assert code_of(check_valid_now, P(usage_limit=5, usage_count=4), NOW) is None
    assert code_of(check_customer_uses, P(per_customer_limit=1), 1) == "coupon_exhausted"
    assert code_of(check_customer_uses, P(per_customer_limit=2), 1) is None


@given(st.lists(st.booleans(), min_size=0, max_size=4), st.booleans())
def test_stacking_one_code_unless_all_combinable(applied_flags: list[bool], new_flag: bool) -> None:
    applied = [P(code=f"C{i}", combinable=f) for i, f in enumerate(applied_flags)]
    result = code_of(check_stacking, applied, P(code="NEW", combinable=new_flag))
    ok = not applied or (new_flag and all(applied_flags))
    assert result == (None if ok else "coupon_not_combinable")


def test_reapplying_the_same_code_is_not_a_stacking_problem() -> None:
    assert code_of(check_stacking, [P(code="A")], P(code="A")) is None


def test_applicability() -> None:
    prod, other = uuid.uuid4(), uuid.uuid4()
    assert code_of(check_applicable, P(minimum_subtotal_cents=5000, currency="USD"), subtotal=4999,
                   currency="USD") == "coupon_minimum_not_met"
    assert code_of(check_applicable, P(minimum_subtotal_cents=5000, currency="USD"), subtotal=5000,
                   currency="USD") is None
    assert code_of(check_applicable, P(kind="fixed_amount_off", amount_cents=500, currency="EUR"), subtotal=1,
                   currency="USD") == "coupon_currency_mismatch"
    assert code_of(check_applicable, P(product_ids=[prod]), subtotal=1, currency="USD",
                   product_ids=[other]) == "coupon_not_applicable"
    assert code_of(check_applicable, P(product_ids=[prod]), subtotal=1, currency="USD",
                   product_ids=[other, prod]) is None


def test_definitions_per_kind() -> None:
    base = {"starts_at": None, "ends_at": None}
    check_definition({**base, "kind": "percentage_off", "percent": Decimal(10)})
    check_definition({**base, "kind": "free_shipping"})
    check_definition({**base, "kind": "fixed_amount_off", "amount_cents": 500, "currency": "USD"})
    check_definition({**base, "kind": "buy_x_get_y", "buy_quantity": 2, "get_quantity": 1})
    bad = [
        {"kind": "percentage_off", "percent": None},
        {"kind": "percentage_off", "percent": Decimal(0)},
        {"kind": "fixed_amount_off", "amount_cents": 500},  # no currency
        {"kind": "fixed_amount_off", "amount_cents": 0, "currency": "USD"},
        {"kind": "buy_x_get_y", "buy_quantity": 2},
        {"kind": "free_shipping", "minimum_subtotal_cents": 100},  # minimum without currency
        {"kind": "free_shipping", "starts_at": NOW, "ends_at": NOW},
    ]
    for values in bad:
        with pytest.raises(ValidationFailed):
            check_definition({**base, **values})


def test_to_rule_defaults_buy_x_get_y_to_free() -> None:
    rule = to_rule(P(kind="buy_x_get_y", percent=None, buy_quantity=2, get_quantity=1))
    assert rule.percent == Decimal(100) and rule.buy_quantity == 2 and rule.get_quantity == 1
