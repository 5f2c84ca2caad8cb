"""The return rules without a database: the state machine, the window, quantities, what units are
worth, refund ceilings and splits, spreading refunds over payments and credits over lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.platform.errors import IllegalTransition
from mercato.returns import domain
from mercato.returns.domain import LineStock, ReturnStatus
from mercato.returns.errors import NotReturnable, RefundAmountInvalid, ReturnQuantityInvalid, ReturnWindowClosed

S = ReturnStatus
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_state_machine_moves_and_refusals() -> None:
    for current, target in [(S.REQUESTED, S.APPROVED), (S.REQUESTED, S.REJECTED), (S.REQUESTED, S.CANCELLED),
                            (S.APPROVED, S.RECEIVED), (S.APPROVED, S.CANCELLED), (S.RECEIVED, S.COMPLETED)]:
        domain.check_transition(current, target)
    for current in domain.FINAL:
        assert domain.allowed_transitions(current) == frozenset()
    with pytest.raises(IllegalTransition) as exc:
        domain.check_transition(S.REQUESTED, S.RECEIVED)
    assert exc.value.extra["allowed_transitions"] == ["approved", "cancelled", "rejected"]
    with pytest.raises(IllegalTransition):
        domain.check_transition(S.RECEIVED, S.CANCELLED)  # the parcel is here: refund or complete
    assert domain.allowed_transitions("nonsense") == frozenset()
    assert set(domain.STATUS_EVENTS) == set(S)


@settings(max_examples=200, derandomize=True)
@given(st.sampled_from(list(S)), st.sampled_from(list(S)))
def test_every_pair_is_either_allowed_or_a_409(current: S, target: S) -> None:
    if target in domain.TRANSITIONS[current]:
        domain.check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            domain.check_transition(current, target)


def test_window_and_delivery() -> None:
    delivered = NOW - timedelta(days=10)
    domain.check_returnable_order("delivered", delivered, NOW, 30)
    domain.check_returnable_order("completed", delivered, NOW, 10)  # the deadline itself is still in
    with pytest.raises(ReturnWindowClosed) as closed:
        domain.check_returnable_order("delivered", delivered, NOW, 9)
    assert closed.value.extra["window_days"] == 9
    domain.check_returnable_order("delivered", delivered - timedelta(days=999), NOW, None)  # waived
    for status, when in [("shipped", delivered), ("paid", None), ("delivered", None)]:
        with pytest.raises(NotReturnable):
            domain.check_returnable_order(status, when, NOW, 30)


def test_quantities() -> None:
    stock = {"a": LineStock(fulfilled=3, returned=1, pending=1), "b": LineStock(fulfilled=1)}
    domain.check_quantities(stock, [("a", 1), ("b", 1)])
    for requested, field in [([("a", 2)], "lines[0].quantity"), ([("b", 0)], "lines[0].quantity"),
                             ([("c", 1)], "lines[0].order_line_id"), ([("b", 1), ("b", 1)], "lines[1].order_line_id"),
                             ([], "lines")]:
        with pytest.raises(ReturnQuantityInvalid) as exc:
            domain.check_quantities(stock, requested)
        assert exc.value.field == field
    assert LineStock(fulfilled=1, returned=1, pending=1).returnable == 0


@settings(max_examples=300, derandomize=True)
@given(total=st.integers(0, 10**9), parts=st.lists(st.integers(1, 5), min_size=1, max_size=8))
def test_units_value_gives_back_the_line_total_exactly_in_any_number_of_parcels(total: int, parts: list[int]) -> None:
    quantity = sum(parts)
    returned, values = 0, []
    for k in parts:
        values.append(domain.units_value(total, quantity, returned, k))
        returned += k
    assert sum(values) == total
    assert all(v >= 0 for v in values)
    # No parcel is worth more than its share rounded up.
    assert all(v <= -(-total * k // quantity) for v, k in zip(values, parts, strict=True))


def test_units_value_refuses_impossible_quantities() -> None:
    with pytest.raises(ValueError):
        domain.units_value(1000, 2, 1, 2)
    with pytest.raises(ValueError):
        domain.units_value(1000, 0, 0, 0)


@settings(max_examples=300, derandomize=True)
@given(items_left=st.integers(-5, 10**6), shipping_left=st.integers(-5, 10**5), include=st.booleans(),
       amount=st.one_of(st.none(), st.integers(-5, 2 * 10**6)))
def test_refund_split_never_exceeds_the_ceiling(items_left: int, shipping_left: int, include: bool,
                                                amount: int | None) -> None:
    ceiling = max(0, items_left) + (max(0, shipping_left) if include else 0)
    try:
        split = domain.refund_split(items_left=items_left, shipping_left=shipping_left, include_shipping=include,
                                    amount=amount)
    except RefundAmountInvalid as exc:
        assert exc.extra["refundable"] == ceiling
        assert ceiling == 0 or (amount is not None and not 0 < amount <= ceiling)
        return
    assert 0 < split.total <= ceiling
    assert split.total == (ceiling if amount is None else amount)
    assert 0 <= split.items <= max(0, items_left)
    assert split.shipping == 0 or (include and split.items == max(0, items_left))


@settings(max_examples=300, derandomize=True)
@given(amount=st.integers(1, 10**6), available=st.lists(st.integers(-10, 10**6), min_size=0, max_size=5))
def test_refunds_spread_over_payments_never_take_more_than_each_can_give(amount: int, available: list[int]) -> None:
    capacity = sum(max(0, a) for a in available)
    if amount > capacity:
        with pytest.raises(RefundAmountInvalid) as exc:
            domain.allocate_to_payments(amount, available)
        assert exc.value.extra["refundable"] == capacity
        return
    shares = domain.allocate_to_payments(amount, available)
    assert sum(shares) == amount
    assert all(0 <= s <= max(0, a) for s, a in zip(shares, available, strict=True))


@settings(max_examples=300, derandomize=True)
@given(credit=st.integers(-10, 10**6), totals=st.lists(st.integers(0, 10**5), min_size=1, max_size=6))
def test_exchange_credit_spread_over_replacement_lines(credit: int, totals: list[int]) -> None:
    shares = domain.allocate_credit(credit, totals)
    assert sum(shares) == min(max(0, credit), sum(totals))
    assert all(0 <= s <= t for s, t in zip(shares, totals, strict=True))


@settings(max_examples=200, derandomize=True)
@given(replacement=st.integers(0, 10**6), credit=st.integers(0, 10**6))
def test_exchange_settlement_charges_or_refunds_the_difference(replacement: int, credit: int) -> None:
    s = domain.exchange_settlement(replacement, credit)
    assert s.credit_used + s.charge == replacement and s.credit_used + s.refund == credit
    assert min(s.charge, s.refund) == 0 and s.charge - s.refund == replacement - credit


def test_rma_numbers_and_settlement() -> None:
    assert domain.rma_number("ORD-20261123-7F3K", 2) == "RMA-20261123-7F3K-2"
    assert domain.is_settled(status="received", items_value=10, items_refunded=10, exchange_pending=False)
    assert not domain.is_settled(status="received", items_value=10, items_refunded=9, exchange_pending=False)
    assert not domain.is_settled(status="received", items_value=0, items_refunded=0, exchange_pending=True)
    assert not domain.is_settled(status="approved", items_value=0, items_refunded=0, exchange_pending=False)
    with pytest.raises(ValueError):
        domain.allocate_to_payments(0, [10])
