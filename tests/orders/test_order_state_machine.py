"""The order status machine, exhaustively: every pair of states under every kind of payment, and
hypothesis random walks; payment and fulfillment status derivation; self-cancel; numbers; drafts."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orders_helpers import make_draft  # noqa: F401  (import check: the helpers load)

from mercato.orders import domain
from mercato.orders.domain import LineProgress, OrderFacts, PaymentFact
from mercato.orders.errors import InvalidDraft, SelfCancelNotAllowed
from mercato.platform.errors import IllegalTransition

STATUSES = [s.value for s in domain.OrderStatus]

# Written out by hand (not derived from the code under test).
ALWAYS = {
    ("pending", "cancelled"),
    ("paid", "processing"), ("paid", "cancelled"),
    ("processing", "partially_shipped"), ("processing", "shipped"), ("processing", "cancelled"),
    ("partially_shipped", "partially_shipped"), ("partially_shipped", "shipped"),
    ("shipped", "delivered"),
}
WHEN_PAID = {("pending", "paid"), ("delivered", "completed")}
WHEN_PAY_LATER = {("pending", "processing")}

PROFILES = {
    "unpaid": OrderFacts("unpaid"),
    "failed": OrderFacts("failed"),
    "authorized": OrderFacts("authorized"),
    "paid": OrderFacts("paid"),
    "partially_refunded": OrderFacts("partially_refunded"),
    "refunded": OrderFacts("refunded"),
    "cod_unpaid": OrderFacts("unpaid", pay_later=True),
    "cod_paid": OrderFacts("paid", pay_later=True),
}


def legal(facts: OrderFacts) -> set[tuple[str, str]]:
    out = set(ALWAYS)
    if facts.payment_status in ("paid", "partially_refunded", "refunded"):
        out |= WHEN_PAID
    if facts.pay_later or facts.payment_status == "authorized":
        out |= WHEN_PAY_LATER
    return out


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_pair_is_legal_or_a_409_listing_the_allowed_ones(profile: str, current: str, target: str) -> None:
    facts = PROFILES[profile]
    expected = legal(facts)
    if (current, target) in expected:
        domain.check_transition(current, target, facts)
        return
    with pytest.raises(IllegalTransition) as err:
        domain.check_transition(current, target, facts)
    assert err.value.status == 409
    assert err.value.code == "illegal_transition"
    assert err.value.extra["allowed_transitions"] == sorted(t for c, t in expected if c == current)
    assert err.value.extra["current"] == current and err.value.extra["target"] == target


def test_terminal_states_are_final_and_cancel_stops_at_shipping() -> None:
    for facts in PROFILES.values():
        for terminal in ("completed", "cancelled"):
            assert domain.allowed_transitions(terminal, facts) == frozenset()
        for shipped in ("partially_shipped", "shipped", "delivered", "completed"):
            assert "cancelled" not in domain.allowed_transitions(shipped, facts)
    assert domain.allowed_transitions("bogus") == frozenset()
    assert domain.CANCELLABLE == {"pending", "paid", "processing"}


def test_a_guard_says_why_the_move_is_blocked() -> None:
    with pytest.raises(IllegalTransition) as err:
        domain.check_transition("pending", "paid", OrderFacts("unpaid"))
    assert "captured" in err.value.extra["blocked_by"]
    with pytest.raises(IllegalTransition) as err:
        domain.check_transition("delivered", "completed", OrderFacts("unpaid", pay_later=True))
    assert err.value.extra["allowed_transitions"] == []
    assert "paid" in err.value.extra["blocked_by"]


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_staff_may_only_name_their_targets(current: str, target: str) -> None:
    facts = OrderFacts("paid")
    allowed = {t for c, t in legal(facts) if c == current} & {"processing", "shipped", "delivered", "completed",
                                                              "cancelled"}
    if target in allowed:
        domain.check_staff_target(current, target, facts)
    else:
        with pytest.raises(IllegalTransition) as err:
            domain.check_staff_target(current, target, facts)
        assert err.value.extra["allowed_transitions"] == sorted(allowed)


RANK = {"pending": 0, "paid": 1, "processing": 2, "partially_shipped": 3, "shipped": 4, "delivered": 5,
        "completed": 6}


@settings(max_examples=300, deadline=None)
@given(profile=st.sampled_from(list(PROFILES)), targets=st.lists(st.sampled_from(STATUSES), max_size=30))
def test_random_walks_only_move_forward_and_end_where_they_must(profile: str, targets: list[str]) -> None:
    facts = PROFILES[profile]
    status, path = "pending", ["pending"]
    for target in targets:
        try:
            domain.check_transition(status, target, facts)
        except IllegalTransition as exc:
            assert target not in exc.extra["allowed_transitions"]
            assert set(exc.extra["allowed_transitions"]) == set(domain.allowed_transitions(status, facts))
            continue
        if target == "cancelled":
            assert status in ("pending", "paid", "processing")
        else:
            assert RANK[target] >= RANK[status]  # never backwards
        status = target
        path.append(status)
    if "cancelled" in path:
        assert path[-1] == "cancelled" and path.count("cancelled") == 1
        assert not {"shipped", "partially_shipped", "delivered", "completed"} & set(path)
    if "completed" in path:
        assert path[-1] == "completed" and "delivered" in path
        assert facts.payment_status in ("paid", "partially_refunded", "refunded")
    if "paid" in path:
        assert facts.payment_status in ("paid", "partially_refunded", "refunded")


# --------------------------------------------------------------------------- payment status


@pytest.mark.parametrize(("facts", "expected"), [
    ([], "unpaid"),
    ([PaymentFact("pending")], "unpaid"),
    ([PaymentFact("requires_action")], "unpaid"),
    ([PaymentFact("failed")], "failed"),
    ([PaymentFact("failed"), PaymentFact("pending")], "unpaid"),
    ([PaymentFact("failed"), PaymentFact("authorized")], "authorized"),
    ([PaymentFact("failed"), PaymentFact("captured", 1000)], "paid"),
    ([PaymentFact("captured", 1000), PaymentFact("failed")], "paid"),
    ([PaymentFact("captured", 400)], "authorized"),
    ([PaymentFact("partially_refunded", 1000, 300)], "partially_refunded"),
    ([PaymentFact("refunded", 1000, 1000)], "refunded"),
    ([PaymentFact("refunded", 600, 600), PaymentFact("captured", 400)], "partially_refunded"),
    ([PaymentFact("cancelled")], "unpaid"),
])
def test_payment_status_is_derived_from_the_attempts(facts: list[PaymentFact], expected: str) -> None:
    assert domain.derive_payment_status(1000, facts) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["pending", "authorized", "captured", "failed", "cancelled"]),
                          st.integers(0, 2000), st.integers(0, 2000)), max_size=5))
def test_derived_payment_status_is_consistent_with_the_money(raw: list[tuple[str, int, int]]) -> None:
    facts = [PaymentFact(s, c if s == "captured" else 0, min(r, c) if s == "captured" else 0) for s, c, r in raw]
    status = domain.derive_payment_status(1000, facts)
    captured = sum(f.amount_captured for f in facts)
    refunded = sum(f.amount_refunded for f in facts)
    if status in ("paid", "partially_refunded", "refunded"):
        assert captured > 0
    if status == "refunded":
        assert refunded >= captured > 0
    if captured == 0:
        assert status in ("unpaid", "authorized", "failed")


def test_outcome_fallback_ignores_stale_reports() -> None:
    assert domain.payment_status_from_outcome("unpaid", "captured") == "paid"
    assert domain.payment_status_from_outcome("paid", "failed") == "paid"
    assert domain.payment_status_from_outcome("refunded", "captured") == "refunded"
    assert domain.payment_status_from_outcome("paid", "refunded") == "refunded"
    assert domain.payment_status_from_outcome("failed", "cancelled") == "unpaid"


def test_fulfillment_status_and_shipment_target() -> None:
    assert domain.derive_fulfillment_status([LineProgress(2), LineProgress(1)]) == "unfulfilled"
    assert domain.derive_fulfillment_status([LineProgress(2, 1), LineProgress(1)]) == "partially_fulfilled"
    assert domain.derive_fulfillment_status([LineProgress(2, 2), LineProgress(1, 1)]) == "fulfilled"
    assert domain.derive_fulfillment_status([LineProgress(2, 2, 2)]) == "returned"
    assert domain.shipment_target([LineProgress(2, 1)]) == "partially_shipped"
    assert domain.shipment_target([LineProgress(2, 2), LineProgress(1, 1)]) == "shipped"


# --------------------------------------------------------------------------- self-cancel, numbers, drafts


def test_customers_cancel_pending_or_paid_orders_within_the_window() -> None:
    placed = datetime(2026, 11, 23, 12, tzinfo=UTC)
    domain.check_self_cancel("pending", placed, placed + timedelta(minutes=59), 3600)
    domain.check_self_cancel("paid", placed, placed + timedelta(seconds=3600), 3600)
    with pytest.raises(SelfCancelNotAllowed):
        domain.check_self_cancel("paid", placed, placed + timedelta(seconds=3601), 3600)
    for status in ("processing", "shipped", "cancelled", "completed"):
        with pytest.raises(SelfCancelNotAllowed) as err:
            domain.check_self_cancel(status, placed, placed, 3600)
        assert err.value.status == 409


def test_order_numbers_are_readable() -> None:
    number = domain.order_number(date(2026, 11, 23))
    assert re.fullmatch(r"ORD-20261123-[0-9A-HJKMNP-TV-Z]{4}", number)
    assert domain.order_number(date(2026, 11, 23), "7F3K") == "ORD-20261123-7F3K"
    assert len({domain.order_number(date(2026, 1, 1)) for _ in range(200)}) > 150


def test_inconsistent_drafts_are_refused() -> None:
    import uuid

    from mercato.orders import OrderDraft, OrderLineDraft

    line = OrderLineDraft(variant_id=uuid.uuid4(), product_id=uuid.uuid4(), sku="A", product_name="A",
                          variant_title=None, quantity=2, unit_price=500, subtotal=999, discount=0, tax=0, total=999)
    draft = OrderDraft(currency="USD", email="a@example.com", lines=(line,), subtotal=1000, discount_total=0,
                       shipping_total=0, shipping_discount=0, tax_total=0, total=1000, prices_include_tax=False,
                       shipping_address=None, billing_address=None)
    with pytest.raises(InvalidDraft) as err:
        domain.check_draft(draft)
    assert err.value.status == 422
    assert any("unit_price" in p for p in err.value.extra["problems"])
    with pytest.raises(InvalidDraft):
        domain.check_draft(OrderDraft(currency="USD", email="a@example.com", lines=(), subtotal=0, discount_total=0,
                                      shipping_total=0, shipping_discount=0, tax_total=0, total=0,
                                      prices_include_tax=False, shipping_address=None, billing_address=None))
