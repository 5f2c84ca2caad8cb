"""Pure inventory rules: the reservation state machine, adjustments, allocation across
locations, stock status and threshold crossings. No I/O; unit-tested without a database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from mercato.inventory.errors import NegativeStock, StockReserved
from mercato.platform.errors import IllegalTransition

# --------------------------------------------------------------------------- reservations


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


RESERVATION_TRANSITIONS: dict[str, frozenset[str]] = {
    ReservationStatus.ACTIVE: frozenset({ReservationStatus.COMMITTED, ReservationStatus.RELEASED,
                                         ReservationStatus.EXPIRED}),
    ReservationStatus.COMMITTED: frozenset(),
    ReservationStatus.RELEASED: frozenset(),
    ReservationStatus.EXPIRED: frozenset(),
}


def allowed_transitions(current: str) -> frozenset[str]:
    return RESERVATION_TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` (409, with the allowed targets) unless ``current → target`` is legal."""
    allowed = allowed_transitions(current)
    if target not in allowed:
        raise IllegalTransition(current, target, list(allowed))


def check_extendable(current: str) -> None:
    """Only an active reservation can be renewed (``active → active``)."""
    if current != ReservationStatus.ACTIVE:
        raise IllegalTransition(current, ReservationStatus.ACTIVE, list(allowed_transitions(current)))


# --------------------------------------------------------------------------- adjustments

#: Reasons a person may give for an adjustment.
ADJUSTMENT_REASONS = ("received", "return", "damaged", "shrinkage", "correction", "cycle_count",
                      "transfer_in", "transfer_out")
#: Reasons written by the system only (reservations and sales).
SYSTEM_REASONS = ("reservation", "release", "expiry", "sale")
#: A positive adjustment with one of these reasons marks the level as restocked.
RESTOCK_REASONS = frozenset({"received"})


def adjusted_on_hand(on_hand: int, reserved: int, *, delta: int | None = None, set_to: int | None = None) -> int:
    """The new ``on_hand`` after an adjustment (exactly one of ``delta`` / ``set_to``).

    Rule: ``0 <= reserved <= on_hand`` always holds. An adjustment that would make on hand
    negative is ``negative_stock``; one that would leave fewer units on hand than are reserved
    is ``stock_reserved`` (release or commit those reservations first), whatever the reason —
    so a reserved unit is always a unit on the shelf and a reservation can always be fulfilled.
    """
    if (delta is None) == (set_to is None):
        raise ValueError("give exactly one of delta and set_to")
    new = on_hand + delta if delta is not None else set_to
    assert new is not None
    if new < 0:
        raise NegativeStock(f"on hand would be {new}", on_hand=on_hand, requested=new)
    if new < reserved:
        raise StockReserved(f"{reserved} unit(s) are reserved; on hand cannot go to {new}",
                            on_hand=on_hand, reserved=reserved, requested=new)
    return new


# --------------------------------------------------------------------------- allocation


@dataclass(frozen=True)
class LevelSnapshot:
    """A locked inventory level, as allocation sees it."""

    level_id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    priority: int
    on_hand: int
    reserved: int
    location_active: bool = True

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class Allocation:
    """``quantity`` units of a variant held at a level; ``level_id`` None means backordered."""

    variant_id: uuid.UUID
    quantity: int
    level_id: uuid.UUID | None = None
    location_id: uuid.UUID | None = None

    @property
    def backordered(self) -> bool:
        return self.level_id is None


@dataclass(frozen=True)
class Shortage:
    variant_id: uuid.UUID
    requested: int
    available: int


def sum_demand(lines: Iterable[tuple[uuid.UUID, int]]) -> dict[uuid.UUID, int]:
    """Demand per variant (several lines of one variant are summed), in first-seen order."""
    demand: dict[uuid.UUID, int] = {}
    for variant_id, quantity in lines:
        if quantity <= 0:
            raise ValueError("quantities must be positive")
        demand[variant_id] = demand.get(variant_id, 0) + quantity
    return demand


def _location_order(level: LevelSnapshot) -> tuple[int, str]:
    return (level.priority, str(level.location_id))


def allocate(demand: Mapping[uuid.UUID, int], levels: Iterable[LevelSnapshot],
             backorderable: Mapping[uuid.UUID, bool]) -> tuple[list[Allocation], list[Shortage]]:
    """Choose where each variant's demand is held.

    Per variant, among active locations with stock, ordered by priority (then id):
    1. the first location that can hold the whole quantity (one parcel beats a preferred warehouse);
    2. otherwise fill greedily in priority order, splitting across locations;
    3. what is still missing is backordered if the variant allows it, else a :class:`Shortage`.
    Allocations are returned only when there is no shortage at all (a reservation is all or nothing).
    """
    by_variant: dict[uuid.UUID, list[LevelSnapshot]] = {}
    for level in levels:
        if level.location_active and level.available > 0:
            by_variant.setdefault(level.variant_id, []).append(level)
    allocations: list[Allocation] = []
    shortages: list[Shortage] = []
    for variant_id, quantity in demand.items():
        candidates = sorted(by_variant.get(variant_id, []), key=_location_order)
        whole = next((lv for lv in candidates if lv.available >= quantity), None)
        if whole is not None:
            allocations.append(Allocation(variant_id, quantity, whole.level_id, whole.location_id))
            continue
        remaining = quantity
        for lv in candidates:
            take = min(lv.available, remaining)
            allocations.append(Allocation(variant_id, take, lv.level_id, lv.location_id))
            remaining -= take
            if remaining == 0:
                break
        if remaining > 0:
            if backorderable.get(variant_id, False):
                allocations.append(Allocation(variant_id, remaining))
            else:
                shortages.append(Shortage(variant_id, quantity, quantity - remaining))
    return ([] if shortages else allocations), shortages


# --------------------------------------------------------------------------- partial commits


@dataclass(frozen=True)
class HeldLine:
    """A reservation line as a partial commit sees it: ``held`` units not yet sold."""

    line_id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID | None  # None: backordered
    held: int


@dataclass(frozen=True)
class CommitStep:
    """One movement of a partial commit.

    ``kind``: ``sell_held`` (units held at the shipping location leave: on hand and reserved
    drop), ``release_held`` (units held at *another* location are freed there: reserved drops),
    ``consume_backorder`` (backordered units are fulfilled), ``sell_free`` (units leave the
    shipping location's free stock: on hand drops, so they must be available there).
    ``line_id`` names the reservation line consumed (None for ``sell_free``)."""

    kind: str
    variant_id: uuid.UUID
    location_id: uuid.UUID | None
    quantity: int
    line_id: uuid.UUID | None = None


def plan_partial_commit(lines: Iterable[HeldLine],
                        shipped: Iterable[tuple[uuid.UUID, uuid.UUID, int]]) -> list[CommitStep]:
    """How ``shipped`` ``[(variant_id, location_id, quantity)]`` units leave, given what is held.

    Per shipped line: first the units held for the variant at that location are sold; then units
    held for it elsewhere are released there and sold from the shipping location's free stock
    (the parcel left from here, so the hold over there is no longer needed); then backordered
    units of the variant are consumed, also sold from free stock; anything beyond the
    reservation is sold from free stock too. Selling from free stock needs the units to be
    available at the shipping location — the service checks that on the locked levels.
    """
    lines = list(lines)
    shipped = list(shipped)
    remaining = {h.line_id: h.held for h in lines if h.held > 0}
    ordered = sorted((h for h in lines if h.held > 0),
                     key=lambda h: (h.location_id is None, str(h.location_id or ""), str(h.line_id)))
    steps: list[CommitStep] = []

    def take_from(kind: str, candidates: list[HeldLine], variant_id: uuid.UUID, location_id: uuid.UUID,
                  left: int) -> int:
        for h in candidates:
            take = min(left, remaining[h.line_id])
            if take <= 0:
                continue
            remaining[h.line_id] -= take
            left -= take
            steps.append(CommitStep(kind, variant_id, h.location_id, take, h.line_id))
            if kind != "sell_held":
                steps.append(CommitStep("sell_free", variant_id, location_id, take))
            if left == 0:
                break
        return left

    # First every shipped line takes what is held where it ships from, so that a hold one line
    # could release elsewhere is never taken from a line shipping from that very place.
    lefts = []
    for variant_id, location_id, quantity in shipped:
        if quantity <= 0:
            raise ValueError("quantities must be positive")
        here = [h for h in ordered if h.variant_id == variant_id and h.location_id == location_id]
        lefts.append(take_from("sell_held", here, variant_id, location_id, quantity))
    for (variant_id, location_id, _), left in zip(shipped, lefts, strict=True):
        elsewhere = [h for h in ordered if h.variant_id == variant_id and h.location_id is not None
                     and h.location_id != location_id]
        left = take_from("release_held", elsewhere, variant_id, location_id, left) if left else 0
        backordered = [h for h in ordered if h.variant_id == variant_id and h.location_id is None]
        left = take_from("consume_backorder", backordered, variant_id, location_id, left) if left else 0
        if left > 0:
            steps.append(CommitStep("sell_free", variant_id, location_id, left))
    return steps


# --------------------------------------------------------------------------- status and crossings


class StockStatus(StrEnum):
    IN_STOCK = "in_stock"
    LOW_STOCK = "low_stock"
    OUT_OF_STOCK = "out_of_stock"
    BACKORDER = "backorder"


def is_low(available: int, threshold: int) -> bool:
    """Low stock: at or below the threshold (a threshold of 0 turns low-stock alerts off)."""
    return threshold > 0 and available <= threshold


def stock_status(available: int, threshold: int, allow_backorder: bool) -> StockStatus:
    if available <= 0:
        return StockStatus.BACKORDER if allow_backorder else StockStatus.OUT_OF_STOCK
    if is_low(available, threshold):
        return StockStatus.LOW_STOCK
    return StockStatus.IN_STOCK


def crossed_low(before: int, after: int, threshold_before: int, threshold_after: int | None = None) -> bool:
    """True exactly when a level *enters* low stock: once per crossing, not on every sale below it."""
    t_after = threshold_before if threshold_after is None else threshold_after
    return not is_low(before, threshold_before) and is_low(after, t_after)


def crossed_out(before: int, after: int) -> bool:
    return before > 0 and after <= 0


def crossed_back_in(before: int, after: int) -> bool:
    return before <= 0 and after > 0
