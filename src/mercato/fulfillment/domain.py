"""Fulfillment rules, no I/O: the shipment state machine, which units are still free to ship,
tracking updates, label retry timing.

Shipment status machine (``SHIPMENT_TRANSITIONS``; the one guard: ``failed`` means two things)::

    pending ─▶ picked ─▶ packed ─▶ label_created ─▶ shipped ─▶ in_transit ⇄ out_for_delivery ─▶ delivered
       │          │        │            │              │            │              │
       └──────────┴────────┴────────────┘              └────────────┴──────────────┴─▶ failed ─▶ returned
                    ▼            ▼ (carrier errors,                  (delivery failed;     │
                cancelled      failed  retries exhausted)             the carrier may try   ▼
                                                                      again)          in_transit / delivered

* ``pending``/``picked``/``packed``/``label_created`` are *open*: their units are set aside for
  this parcel (no other shipment may take them) but have not left the warehouse.
* ``shipped`` and everything after it: the units left (the order's lines count them fulfilled,
  the stock was sold). ``delivered``, ``returned`` and ``cancelled`` are final.
* ``failed`` before shipping (the label could not be created after every retry) is final: the
  units are free again and staff create a new shipment. ``failed`` after shipping (the carrier
  could not deliver) may still move on when the carrier tries again, or come ``returned``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from mercato.platform.errors import IllegalTransition


class ShipmentStatus(StrEnum):
    PENDING = "pending"
    PICKED = "picked"
    PACKED = "packed"
    LABEL_CREATED = "label_created"
    SHIPPED = "shipped"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED = "failed"
    RETURNED = "returned"
    CANCELLED = "cancelled"


S = ShipmentStatus

SHIPMENT_TRANSITIONS: dict[ShipmentStatus, frozenset[ShipmentStatus]] = {
    S.PENDING: frozenset({S.PICKED, S.CANCELLED}),
    S.PICKED: frozenset({S.PACKED, S.CANCELLED}),
    S.PACKED: frozenset({S.LABEL_CREATED, S.FAILED, S.CANCELLED}),
    S.LABEL_CREATED: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.FAILED, S.RETURNED}),
    S.IN_TRANSIT: frozenset({S.OUT_FOR_DELIVERY, S.DELIVERED, S.FAILED, S.RETURNED}),
    S.OUT_FOR_DELIVERY: frozenset({S.IN_TRANSIT, S.DELIVERED, S.FAILED, S.RETURNED}),
    S.FAILED: frozenset({S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.RETURNED}),
    S.DELIVERED: frozenset(),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}

#: Units set aside for the parcel but still in the warehouse.
OPEN = frozenset({S.PENDING, S.PICKED, S.PACKED, S.LABEL_CREATED})
#: The parcel left (when ``failed``: only if it had shipped).
AFTER_SHIPPING = frozenset({S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.RETURNED})
FINAL = frozenset({S.DELIVERED, S.RETURNED, S.CANCELLED})
#: What staff may ask for by name (``POST /shipments/{id}/transitions``); the label, shipping and
#: carrier updates have their own routes.
STAFF_TARGETS = frozenset({S.PICKED, S.PACKED, S.CANCELLED})
#: Statuses a tracking event (carrier or staff) may report.
TRACKING_STATUSES = frozenset({S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.FAILED, S.RETURNED})

#: The event each status emits (``shipment.<status>``).
STATUS_EVENTS: dict[ShipmentStatus, str] = {s: f"shipment.{s.value}" for s in ShipmentStatus}
STATUS_EVENTS[S.PENDING] = "shipment.created"


def allowed_transitions(current: str, *, shipped: bool) -> frozenset[str]:
    """Where a shipment in ``current`` may go. ``shipped``: it left the warehouse once (only matters
    for ``failed``: a label that never came is final, a failed delivery is not)."""
    try:
        status = ShipmentStatus(current)
    except ValueError:
        return frozenset()
    if status is S.FAILED and not shipped:
        return frozenset()
    return frozenset(str(t) for t in SHIPMENT_TRANSITIONS[status])


def check_transition(current: str, target: str, *, shipped: bool) -> None:
    """Raise :class:`IllegalTransition` (409, with the allowed targets) unless ``current → target`` is legal."""
    allowed = allowed_transitions(current, shipped=shipped)
    if target not in allowed:
        raise IllegalTransition(current, target, sorted(allowed))


def holds_units(status: str) -> bool:
    """The shipment's units count against what is left to ship (open, not yet sold)."""
    return status in OPEN


def is_shipped(status: str, shipped_at_set: bool) -> bool:
    return status in AFTER_SHIPPING or (status == S.FAILED and shipped_at_set)


def tracking_path(current: str, reported: str, *, shipped: bool) -> list[str]:
    """The moves a tracking update causes: none when it repeats the status (a new scan, history
    only), ``[shipped, reported]`` for a first scan of a parcel whose label was created (the
    carrier picked it up), else ``[reported]`` — which :func:`check_transition` then judges."""
    if reported == current:
        return []
    if current == S.LABEL_CREATED and reported in TRACKING_STATUSES:
        return [S.SHIPPED.value] if reported == S.SHIPPED else [S.SHIPPED.value, reported]
    return [reported]


# --------------------------------------------------------------------------- what is left to ship


@dataclass(frozen=True)
class LineState:
    """An order line as fulfillment sees it."""

    line_id: uuid.UUID
    quantity: int
    fulfilled: int  # shipped already (the order's ``quantity_fulfilled``)
    in_open_shipments: int = 0  # set aside in open shipments

    @property
    def unallocated(self) -> int:
        return max(0, self.quantity - self.fulfilled - self.in_open_shipments)


@dataclass(frozen=True)
class ItemProblem:
    index: int
    line_id: uuid.UUID
    reason: str  # unknown_line | exceeds_remaining | duplicate_line
    requested: int
    remaining: int


def check_items(lines: Mapping[uuid.UUID, LineState], items: Iterable[tuple[uuid.UUID, int]]) -> list[ItemProblem]:
    """Problems of a new shipment's ``items`` ``[(line_id, quantity)]`` (empty: it may be created)."""
    problems: list[ItemProblem] = []
    seen: set[uuid.UUID] = set()
    for i, (line_id, quantity) in enumerate(items):
        line = lines.get(line_id)
        if line is None:
            problems.append(ItemProblem(i, line_id, "unknown_line", quantity, 0))
        elif line_id in seen:
            problems.append(ItemProblem(i, line_id, "duplicate_line", quantity, line.unallocated))
        elif quantity > line.unallocated:
            problems.append(ItemProblem(i, line_id, "exceeds_remaining", quantity, line.unallocated))
        seen.add(line_id)
    return problems


def split_by_location(demand: Mapping[uuid.UUID, int],
                      held: Mapping[uuid.UUID, list[tuple[uuid.UUID, int]]]) -> dict[uuid.UUID | None, dict[uuid.UUID, int]]:
    """Suggested parcels: each line's ``demand`` units assigned to the locations holding them
    (``held``: per line, ``[(location_id, units)]`` in preference order); what no location holds
    goes under ``None`` (staff pick a location)."""
    out: dict[uuid.UUID | None, dict[uuid.UUID, int]] = {}
    for line_id, wanted in demand.items():
        left = wanted
        for location_id, units in held.get(line_id, []):
            take = min(left, units)
            if take > 0:
                out.setdefault(location_id, {})[line_id] = out.get(location_id, {}).get(line_id, 0) + take
                left -= take
        if left > 0:
            out.setdefault(None, {})[line_id] = left
    return out


def assign_holds(lines: Iterable[tuple[uuid.UUID, uuid.UUID, int]],
                 holds: Mapping[uuid.UUID, list[tuple[uuid.UUID, int]]]) -> dict[uuid.UUID, list[tuple[uuid.UUID, int]]]:
    """Per order line ``(line_id, variant_id, units still to ship)``, the locations holding its units:
    a variant's held units (``holds``: per variant ``[(location_id, units)]``) go to its lines in
    order."""
    left = {v: [(loc, units) for loc, units in h] for v, h in holds.items()}
    out: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {}
    for line_id, variant_id, units in lines:
        need = units
        pairs = left.get(variant_id, [])
        for i, (location_id, free) in enumerate(pairs):
            take = min(need, free)
            if take > 0:
                out.setdefault(line_id, []).append((location_id, take))
                pairs[i] = (location_id, free - take)
                need -= take
        out.setdefault(line_id, [])
    return out


# --------------------------------------------------------------------------- label retries


def label_attempt_outcome(attempts: int, max_attempts: int) -> str:
    """After ``attempts`` failed label attempts: ``retry`` or ``give_up``."""
    return "give_up" if attempts >= max_attempts else "retry"
