"""The shipment state machine, what is left to ship, parcels per location, and the partial-commit
plan of inventory — pure rules, no database (hypothesis where the inputs vary)."""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mercato.fulfillment import domain
from mercato.fulfillment.domain import LineState, ShipmentStatus
from mercato.inventory.domain import HeldLine, plan_partial_commit
from mercato.platform.errors import IllegalTransition

S = ShipmentStatus
ALL = [s.value for s in ShipmentStatus]


def test_the_happy_path_is_legal_and_final_states_are_final() -> None:
    path = ["pending", "picked", "packed", "label_created", "shipped", "in_transit", "out_for_delivery", "delivered"]
    shipped = False
    for a, b in itertools.pairwise(path):
        domain.check_transition(a, b, shipped=shipped)
        shipped = shipped or b == "shipped"
    for final in ("delivered", "returned", "cancelled"):
        assert domain.allowed_transitions(final, shipped=True) == frozenset()
    assert domain.allowed_transitions("nonsense", shipped=False) == frozenset()


def test_failed_is_final_only_before_shipping() -> None:
    assert domain.allowed_transitions("failed", shipped=False) == frozenset()
    assert "delivered" in domain.allowed_transitions("failed", shipped=True)
    with pytest.raises(IllegalTransition) as exc:
        domain.check_transition("failed", "in_transit", shipped=False)
    assert exc.value.extra["allowed_transitions"] == []


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.sampled_from(ALL), max_size=25))
def test_any_walk_respects_the_machine(targets: list[str]) -> None:
    """Random requested moves: a legal one is applied, an illegal one raises and changes nothing;
    whatever happens, the parcel never goes back to the warehouse once shipped, never leaves a final
    state, and is never delivered without having shipped."""
    status, shipped = "pending", False
    for target in targets:
        allowed = domain.allowed_transitions(status, shipped=shipped)
        if target in allowed:
            domain.check_transition(status, target, shipped=shipped)
            assert not (shipped and target in domain.OPEN)
            status, shipped = target, shipped or target == "shipped"
        else:
            with pytest.raises(IllegalTransition) as exc:
                domain.check_transition(status, target, shipped=shipped)
            assert sorted(exc.value.extra["allowed_transitions"]) == sorted(allowed)
        if status in ("delivered", "in_transit", "out_for_delivery", "returned"):
            assert shipped
        assert domain.holds_units(status) == (status in ("pending", "picked", "packed", "label_created"))


@given(st.sampled_from(ALL), st.sampled_from(sorted(domain.TRACKING_STATUSES | {S.SHIPPED})), st.booleans())
def test_tracking_paths(current: str, reported: str, shipped: bool) -> None:
    path = domain.tracking_path(current, reported, shipped=shipped)
    if reported == current:
        assert path == []
    elif current == "label_created":
        assert path[0] == "shipped" and path[-1] == reported
    else:
        assert path == [reported]


def test_check_items_reports_each_problem() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    lines = {a: LineState(a, quantity=5, fulfilled=1, in_open_shipments=2), b: LineState(b, 1, 0)}
    assert lines[a].unallocated == 2
    assert domain.check_items(lines, [(a, 2), (b, 1)]) == []
    problems = domain.check_items(lines, [(a, 3), (uuid.uuid4(), 1), (b, 1), (b, 1)])
    assert [(p.index, p.reason, p.remaining) for p in problems] == [
        (0, "exceeds_remaining", 2), (1, "unknown_line", 0), (3, "duplicate_line", 1)]


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5)), min_size=1, max_size=6), st.integers(0, 20))
def test_parcels_per_location_cover_the_demand(holds: list[tuple[int, int]], wanted: int) -> None:
    locs = [uuid.UUID(int=i + 1) for i in range(4)]
    line = uuid.uuid4()
    held = {line: [(locs[i], q) for i, q in holds]}
    parcels = domain.split_by_location({line: wanted}, held)
    assert sum(p.get(line, 0) for p in parcels.values()) == wanted
    for loc, items in parcels.items():
        if loc is not None:
            assert items[line] <= sum(q for i, q in holds if locs[i] == loc)
    total_held = sum(q for _, q in holds)
    assert parcels.get(None, {}).get(line, 0) == max(0, wanted - total_held)


def test_holds_go_to_a_variants_lines_in_order() -> None:
    v, east, west = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    l1, l2 = uuid.uuid4(), uuid.uuid4()
    out = domain.assign_holds([(l1, v, 2), (l2, v, 3)], {v: [(east, 4), (west, 1)]})
    assert out == {l1: [(east, 2)], l2: [(east, 2), (west, 1)]}
    assert domain.label_attempt_outcome(2, 3) == "retry" and domain.label_attempt_outcome(3, 3) == "give_up"


# --------------------------------------------------------------------------- inventory's partial commit

LOCS = [uuid.UUID(int=i + 1) for i in range(3)]
VARIANT = uuid.UUID(int=99)


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from([*LOCS, None]), st.integers(0, 4)), max_size=5),
       st.lists(st.tuples(st.sampled_from(LOCS), st.integers(1, 6)), min_size=1, max_size=4))
def test_partial_commit_plan_conserves_units(held: list[tuple[uuid.UUID | None, int]],
                                             shipped: list[tuple[uuid.UUID, int]]) -> None:
    lines = [HeldLine(uuid.UUID(int=1000 + i), VARIANT, loc, q) for i, (loc, q) in enumerate(held)]
    steps = plan_partial_commit(lines, [(VARIANT, loc, q) for loc, q in shipped])
    # every shipped unit leaves from its shipping location, exactly once
    for loc in LOCS:
        out = sum(s.quantity for s in steps if s.kind in ("sell_held", "sell_free") and s.location_id == loc)
        assert out == sum(q for ship_loc, q in shipped if ship_loc == loc)
    # no reservation line gives more than it holds; held units elsewhere are released, not sold
    for line in lines:
        taken = sum(s.quantity for s in steps if s.line_id == line.line_id)
        assert taken <= line.held
    for s in steps:
        if s.kind == "sell_held":
            assert any(line.line_id == s.line_id and line.location_id == s.location_id for line in lines)
        if s.kind == "release_held":
            assert s.location_id is not None
    # units held at the shipping location are used before anything else
    for loc, _q in shipped:
        here = sum(line.held for line in lines if line.location_id == loc)
        if here >= sum(qq for ll, qq in shipped if ll == loc):
            assert not any(s.kind == "sell_free" and s.location_id == loc for s in steps)


def test_partial_commit_rejects_non_positive_quantities() -> None:
    with pytest.raises(ValueError):
        plan_partial_commit([], [(VARIANT, LOCS[0], 0)])
