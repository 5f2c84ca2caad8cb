"""The pricing function, property-based: invariants that must hold for every cart."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.pricing import PriceLine, PromotionRule, allocate, price_cart, tax_exclusive, tax_inclusive

PRODUCTS = [uuid.UUID(int=i) for i in range(1, 5)]
CATEGORIES = [uuid.UUID(int=100 + i) for i in range(1, 3)]
TAX_CLASSES = ["standard", "reduced", "zero"]

rates = st.decimals(min_value=0, max_value=30, places=3, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def carts(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(min_value=0, max_value=6))
    lines = [PriceLine(key=i, unit_price=draw(st.integers(0, 500_000)), quantity=draw(st.integers(1, 99)),
                       product_id=draw(st.sampled_from(PRODUCTS)), category_id=draw(st.sampled_from([None, *CATEGORIES])),
                       tax_class=draw(st.sampled_from(TAX_CLASSES)))
             for i in range(n)]
    return lines


@st.composite
def rules(draw, currency: str = "USD"):  # type: ignore[no-untyped-def]
    kind = draw(st.sampled_from(["percentage_off", "fixed_amount_off", "free_shipping", "buy_x_get_y"]))
    targeted = draw(st.booleans())
    return PromotionRule(
        id=uuid.uuid4(), code=draw(st.text("ABC123", min_size=3, max_size=6)), kind=kind,
        percent=draw(percents), amount=draw(st.integers(0, 2_000_000)),
        currency=currency if kind == "fixed_amount_off" else None,
        product_ids=frozenset(draw(st.sets(st.sampled_from(PRODUCTS), max_size=2))) if targeted else frozenset(),
        category_ids=frozenset(draw(st.sets(st.sampled_from(CATEGORIES), max_size=1))) if targeted else frozenset(),
        buy_quantity=draw(st.integers(1, 4)), get_quantity=draw(st.integers(1, 3)),
        minimum_subtotal=draw(st.one_of(st.none(), st.integers(0, 1_000_000))),
    )


tax_tables = st.fixed_dictionaries({"standard": rates, "reduced": rates})


@settings(max_examples=400, deadline=None)
@given(lines=carts(), promos=st.lists(rules(), max_size=4), taxes=tax_tables,
       shipping=st.one_of(st.none(), st.integers(0, 50_000)), shipping_tax=st.one_of(st.none(), rates),
       inclusive=st.booleans(), currency=st.sampled_from(["USD", "EUR", "JPY"]))
def test_invariants(lines, promos, taxes, shipping, shipping_tax, inclusive, currency) -> None:  # type: ignore[no-untyped-def]
    promos = [p if p.currency is None else PromotionRule(**{**p.__dict__, "currency": currency}) for p in promos]
    t = price_cart(lines, currency=currency, promotions=promos, tax_rates=taxes, shipping_rate=shipping,
                   shipping_tax_rate=shipping_tax, prices_include_tax=inclusive)
    amounts = [t.subtotal, t.discount_total, t.shipping_total, t.shipping_discount, t.shipping_tax, t.tax_total, t.total]
    # integers, never negative
    assert all(type(a) is int for a in amounts)
    assert all(a >= 0 for a in amounts)
    for lt in t.lines:
        assert all(type(a) is int and a >= 0 for a in (lt.subtotal, lt.discount, lt.tax, lt.total))
        assert lt.discount <= lt.subtotal
        assert lt.subtotal == lt.unit_price * lt.quantity
    # lines add up
    assert sum(lt.subtotal for lt in t.lines) == t.subtotal
    assert sum(lt.discount for lt in t.lines) == t.discount_total
    assert sum(lt.tax for lt in t.lines) + t.shipping_tax == t.tax_total
    assert sum(a.discount for a in t.applied) == t.discount_total
    assert sum(a.shipping_discount for a in t.applied) == t.shipping_discount
    # discounts are bounded
    assert t.discount_total <= t.subtotal
    assert t.shipping_discount <= t.shipping_total
    assert t.shipping_total == (shipping or 0)
    # the total formula
    goods = t.subtotal - t.discount_total + t.shipping_total - t.shipping_discount
    if inclusive:
        assert t.total == goods
        assert t.tax_total <= goods  # the tax is contained in the price
        for lt in t.lines:
            assert lt.tax <= lt.subtotal - lt.discount
            assert lt.total == lt.subtotal - lt.discount
    else:
        assert t.total == goods + t.tax_total
        for lt in t.lines:
            assert lt.total == lt.subtotal - lt.discount + lt.tax
    # each promotion is either applied or rejected, never both, never lost
    assert len(t.applied) + len(t.rejected) == len(promos)


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(0, 10**9), weights=st.lists(st.integers(0, 10**7), min_size=1, max_size=12))
def test_allocate_sums_exactly_and_never_exceeds_weights(amount: int, weights: list[int]) -> None:
    total = sum(weights)
    amount = min(amount, total)
    shares = allocate(amount, weights)
    assert sum(shares) == amount
    assert all(0 <= s <= w for s, w in zip(shares, weights, strict=True))
    # proportional within one unit
    if total:
        for s, w in zip(shares, weights, strict=True):
            assert abs(s - amount * w / total) < 1


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(0, 10**9), rate=rates)
def test_inclusive_tax_is_contained_and_consistent_with_exclusive(amount: int, rate: Decimal) -> None:
    contained = tax_inclusive(amount, rate)
    assert 0 <= contained <= amount
    net = amount - contained
    # adding tax on the net price gets back to the gross price within rounding of one minor unit
    assert abs(net + tax_exclusive(net, rate) - amount) <= 1


@settings(max_examples=200, deadline=None)
@given(lines=carts(), percent=percents)
def test_order_percentage_is_percent_of_subtotal(lines, percent) -> None:  # type: ignore[no-untyped-def]
    rule = PromotionRule(id=1, code="P", kind="percentage_off", percent=percent)
    t = price_cart(lines, currency="USD", promotions=[rule])
    if lines:
        expected = int((Decimal(t.subtotal) * percent / 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
        assert t.discount_total == expected


# --------------------------------------------------------------------------- worked examples


def test_tax_exclusive_per_line_rounding_half_up() -> None:
    lines = [PriceLine("a", 999, 1), PriceLine("b", 1001, 1, tax_class="reduced")]
    t = price_cart(lines, currency="USD", tax_rates={"standard": Decimal("8.875"), "reduced": Decimal("5")})
    assert [lt.tax for lt in t.lines] == [89, 50]  # 88.66 → 89; 50.05 → 50
    assert t.tax_total == 139
    assert t.total == 2000 + 139


def test_tax_inclusive_extracts_tax_from_price() -> None:
    t = price_cart([PriceLine("a", 11900, 1)], currency="EUR", tax_rates={"standard": Decimal("19")},
                   prices_include_tax=True)
    assert t.tax_total == 1900
    assert t.total == 11900


def test_jpy_has_no_minor_unit_and_rounds_to_whole_yen() -> None:
    t = price_cart([PriceLine("a", 333, 1)], currency="JPY", tax_rates={"standard": Decimal("10")},
                   promotions=[PromotionRule(id=1, code="X", kind="percentage_off", percent=Decimal("15"))])
    assert t.discount_total == 50  # 49.95 → 50 yen
    assert t.tax_total == 28  # 10 % of 283 = 28.3 → 28
    assert t.total == 333 - 50 + 28


def test_fixed_amount_is_allocated_proportionally_and_capped_at_subtotal() -> None:
    lines = [PriceLine("a", 1000, 1), PriceLine("b", 2000, 1)]
    t = price_cart(lines, currency="USD", promotions=[
        PromotionRule(id=1, code="TEN", kind="fixed_amount_off", amount=1000, currency="USD")])
    assert [lt.discount for lt in t.lines] == [333, 667]
    t = price_cart(lines, currency="USD", promotions=[
        PromotionRule(id=1, code="HUGE", kind="fixed_amount_off", amount=10**6, currency="USD")])
    assert t.discount_total == 3000 and t.total == 0


def test_targeted_promotion_only_touches_targeted_lines() -> None:
    p1, p2, cat = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    lines = [PriceLine("a", 1000, 2, product_id=p1), PriceLine("b", 500, 1, product_id=p2, category_id=cat)]
    t = price_cart(lines, currency="USD", promotions=[
        PromotionRule(id=1, code="P1", kind="percentage_off", percent=Decimal(50), product_ids=frozenset({p1}))])
    assert [lt.discount for lt in t.lines] == [1000, 0]
    t = price_cart(lines, currency="USD", promotions=[
        PromotionRule(id=1, code="C", kind="percentage_off", percent=Decimal(10), category_ids=frozenset({cat}))])
    assert [lt.discount for lt in t.lines] == [0, 50]


def test_buy_x_get_y_discounts_the_cheapest_units() -> None:
    lines = [PriceLine("a", 1000, 2), PriceLine("b", 300, 1), PriceLine("c", 700, 1)]
    rule = PromotionRule(id=1, code="B2G1", kind="buy_x_get_y", buy_quantity=2, get_quantity=1, percent=Decimal(100))
    t = price_cart(lines, currency="USD", promotions=[rule])
    # 4 units → one group of 3 → the cheapest unit (300) is free
    assert [lt.discount for lt in t.lines] == [0, 300, 0]
    half = PromotionRule(id=2, code="B1G1", kind="buy_x_get_y", buy_quantity=1, get_quantity=1, percent=Decimal(50))
    t = price_cart(lines, currency="USD", promotions=[half])
    # 2 groups → the 2 cheapest units (300, 700) at 50 % off
    assert [lt.discount for lt in t.lines] == [0, 150, 350]


def test_free_shipping_and_minimum_subtotal() -> None:
    lines = [PriceLine("a", 2500, 1)]
    free = PromotionRule(id=1, code="SHIP", kind="free_shipping", minimum_subtotal=2000)
    t = price_cart(lines, currency="USD", promotions=[free], shipping_rate=799)
    assert t.shipping_discount == 799 and t.total == 2500
    t = price_cart([PriceLine("a", 1500, 1)], currency="USD", promotions=[free], shipping_rate=799)
    assert t.shipping_discount == 0 and t.total == 2299
    assert [r.reason for r in t.rejected] == ["coupon_minimum_not_met"]


def test_shipping_is_taxed_only_with_a_shipping_rate() -> None:
    t = price_cart([PriceLine("a", 1000, 1)], currency="GBP", tax_rates={"standard": Decimal(20)}, shipping_rate=500,
                   shipping_tax_rate=Decimal(20))
    assert t.shipping_tax == 100 and t.tax_total == 300 and t.total == 1800


def test_fixed_amount_in_another_currency_is_rejected() -> None:
    t = price_cart([PriceLine("a", 1000, 1)], currency="EUR", promotions=[
        PromotionRule(id=1, code="USD5", kind="fixed_amount_off", amount=500, currency="USD")])
    assert t.discount_total == 0 and t.rejected[0].reason == "coupon_currency_mismatch"


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        PriceLine("a", -1, 1)
    with pytest.raises(ValueError):
        PriceLine("a", 1, 0)
    with pytest.raises(ValueError):
        price_cart([PriceLine("a", 1, 1), PriceLine("a", 2, 1)], currency="USD")
    with pytest.raises(Exception, match="currency"):
        price_cart([], currency="XXX")
