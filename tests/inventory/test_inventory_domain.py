"""Pure rules: the reservation state machine (exhaustively), adjustments, allocation, crossings."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.inventory import domain
from mercato.inventory.domain import LevelSnapshot, ReservationStatus
from mercato.inventory.errors import NegativeStock, StockReserved
from mercato.platform.errors import IllegalTransition

STATUSES = [s.value for s in ReservationStatus]
LEGAL = {("active", "committed"), ("active", "released"), ("active", "expired")}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_transition_is_legal_or_a_409_listing_the_allowed_ones(current: str, target: str) -> None:
    if (current, target) in LEGAL:
        domain.check_transition(current, target)
        return
    with pytest.raises(IllegalTransition) as err:
        domain.check_transition(current, target)
    assert err.value.status == 409
    assert err.value.extra["allowed_transitions"] == sorted(t for c, t in LEGAL if c == current)


def test_terminal_states_have_no_way_out_and_unknown_states_none_either() -> None:
    for s in ("committed", "released", "expired", "bogus"):
        assert domain.allowed_transitions(s) == frozenset()


@pytest.mark.parametrize("status", STATUSES)
def test_only_active_reservations_extend(status: str) -> None:
    if status == "active":
        domain.check_extendable(status)
    else:
        with pytest.raises(IllegalTransition):
            domain.check_extendable(status)


@given(st.lists(st.sampled_from([*STATUSES, "bogus"]), max_size=6))
def test_any_walk_ends_in_one_of_the_states_and_never_leaves_a_terminal_one(walk: list[str]) -> None:
    state = "active"
    for target in walk:
        try:
            domain.check_transition(state, target)
        except IllegalTransition:
            assert (state, target) not in LEGAL
            continue
        assert state == "active"
        state = target
    assert state in STATUSES


# --------------------------------------------------------------------------- adjustments


def test_adjustments_keep_zero_le_reserved_le_on_hand() -> None:
    assert domain.adjusted_on_hand(10, 3, delta=5) == 15
    assert domain.adjusted_on_hand(10, 3, set_to=3) == 3
    assert domain.adjusted_on_hand(10, 3, delta=-7) == 3
    with pytest.raises(NegativeStock):
        domain.adjusted_on_hand(2, 0, delta=-3)
    with pytest.raises(StockReserved):
        domain.adjusted_on_hand(10, 3, delta=-8)
    with pytest.raises(StockReserved):
        domain.adjusted_on_hand(10, 3, set_to=2)
    with pytest.raises(ValueError):
        domain.adjusted_on_hand(1, 0)
    with pytest.raises(ValueError):
        domain.adjusted_on_hand(1, 0, delta=1, set_to=1)


@given(st.integers(0, 100), st.integers(0, 100), st.integers(-200, 200))
def test_an_accepted_adjustment_never_breaks_the_invariant(on_hand: int, reserved: int, delta: int) -> None:
    reserved = min(reserved, on_hand)
    try:
        new = domain.adjusted_on_hand(on_hand, reserved, delta=delta)
    except (NegativeStock, StockReserved):
        assert on_hand + delta < reserved
        return
    assert 0 <= reserved <= new == on_hand + delta


# --------------------------------------------------------------------------- allocation

V1, V2 = uuid.UUID(int=1), uuid.UUID(int=2)
L1, L2, L3 = uuid.UUID(int=11), uuid.UUID(int=12), uuid.UUID(int=13)


def lvl(variant: uuid.UUID, location: uuid.UUID, priority: int, on_hand: int, reserved: int = 0,
        active: bool = True) -> LevelSnapshot:
    return LevelSnapshot(uuid.uuid4(), variant, location, priority, on_hand, reserved, active)


def test_demand_for_one_variant_on_several_lines_is_summed() -> None:
    assert domain.sum_demand([(V1, 2), (V2, 1), (V1, 3)]) == {V1: 5, V2: 1}
    with pytest.raises(ValueError):
        domain.sum_demand([(V1, 0)])


def test_one_location_that_holds_everything_beats_a_split_even_if_less_preferred() -> None:
    allocations, shortages = domain.allocate({V1: 5}, [lvl(V1, L1, 1, 2), lvl(V1, L2, 2, 10)], {})
    assert not shortages
    assert [(a.location_id, a.quantity) for a in allocations] == [(L2, 5)]


def test_preferred_location_first_and_split_when_no_single_location_suffices() -> None:
    levels = [lvl(V1, L3, 3, 10), lvl(V1, L1, 1, 4, reserved=1), lvl(V1, L2, 2, 5)]
    allocations, _ = domain.allocate({V1: 3}, levels, {})
    assert [(a.location_id, a.quantity) for a in allocations] == [(L1, 3)]
    allocations, _ = domain.allocate({V1: 12}, levels, {})
    assert [(a.location_id, a.quantity) for a in allocations] == [(L1, 3), (L2, 5), (L3, 4)]


def test_inactive_locations_and_empty_levels_are_skipped() -> None:
    allocations, shortages = domain.allocate({V1: 2}, [lvl(V1, L1, 0, 5, active=False), lvl(V1, L2, 1, 1)], {})
    assert allocations == [] and shortages == [domain.Shortage(V1, 2, 1)]


def test_shortage_is_all_or_nothing_and_lists_every_short_line() -> None:
    allocations, shortages = domain.allocate({V1: 2, V2: 9}, [lvl(V1, L1, 0, 1), lvl(V2, L1, 0, 3)], {})
    assert allocations == []
    assert shortages == [domain.Shortage(V1, 2, 1), domain.Shortage(V2, 9, 3)]


def test_backorderable_variants_backorder_the_missing_units() -> None:
    allocations, shortages = domain.allocate({V1: 5}, [lvl(V1, L1, 0, 2)], {V1: True})
    assert not shortages
    assert [(a.location_id, a.quantity, a.backordered) for a in allocations] == [(L1, 2, False), (None, 3, True)]
    allocations, _ = domain.allocate({V2: 4}, [], {V2: True})
    assert [(a.location_id, a.quantity) for a in allocations] == [(None, 4)]


level_strategy = st.builds(lambda v, loc, p, oh, r, a: lvl(v, loc, p, oh, min(r, oh), a),
                           st.sampled_from([V1, V2]), st.sampled_from([L1, L2, L3]), st.integers(0, 3),
                           st.integers(0, 20), st.integers(0, 20), st.booleans())


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from([V1, V2]), st.integers(1, 40), min_size=1),
       st.lists(level_strategy, max_size=6), st.dictionaries(st.sampled_from([V1, V2]), st.booleans()))
def test_allocation_never_oversells(demand: dict, levels: list[LevelSnapshot], backorderable: dict) -> None:
    allocations, shortages = domain.allocate(demand, levels, backorderable)
    available = {v: sum(lv.available for lv in levels if lv.variant_id == v and lv.location_active) for v in demand}
    if shortages:
        assert allocations == []
        for s in shortages:
            assert not backorderable.get(s.variant_id, False)
            assert s.available == available[s.variant_id] < s.requested == demand[s.variant_id]
        return
    by_level = {lv.level_id: lv for lv in levels}
    for a in allocations:
        assert a.quantity > 0
        if a.level_id is None:
            assert backorderable.get(a.variant_id)
        else:
            level = by_level[a.level_id]
            assert level.location_active and level.variant_id == a.variant_id and a.quantity <= level.available
    for v, qty in demand.items():
        assert sum(a.quantity for a in allocations if a.variant_id == v) == qty
        backordered = sum(a.quantity for a in allocations if a.variant_id == v and a.backordered)
        assert backordered == max(0, qty - available[v])


# --------------------------------------------------------------------------- status and crossings


def test_stock_status() -> None:
    assert domain.stock_status(10, 5, False) == "in_stock"
    assert domain.stock_status(5, 5, False) == "low_stock"
    assert domain.stock_status(1, 0, False) == "in_stock"
    assert domain.stock_status(0, 5, False) == "out_of_stock"
    assert domain.stock_status(0, 5, True) == "backorder"


def test_low_stock_fires_once_per_crossing() -> None:
    sales = [10, 9, 6, 5, 4, 1, 0, 3, 8, 5, 2]  # available after each change, threshold 5
    fired = [b for b, a in itertools.pairwise(sales) if domain.crossed_low(b, a, 5)]
    assert fired == [6, 8]  # 6 → 5 and 8 → 5: twice, because stock went back above 5 in between
    assert not domain.crossed_low(10, 0, 0)  # threshold 0: no low-stock alerts
    assert domain.crossed_low(8, 8, 5, 10)  # raising the threshold above the stock is a crossing


def test_out_and_back_in_stock_crossings() -> None:
    assert domain.crossed_out(1, 0) and not domain.crossed_out(0, 0) and not domain.crossed_out(2, 1)
    assert domain.crossed_back_in(0, 1) and not domain.crossed_back_in(1, 2) and not domain.crossed_back_in(0, 0)
