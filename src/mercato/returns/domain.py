"""Return rules, in one place: the status machine, the return window, which quantities may come
back, what returned units are worth, how much a refund may be and where it goes, and the
difference an exchange charges or refunds. No I/O.

Status machine (``TRANSITIONS``)::

    requested ──▶ approved ──▶ received ──▶ completed
        │            │
        ├──▶ rejected│  (final, with the staff's note)
        └────────────┴──▶ cancelled  (by the customer or staff, before anything came back)

``completed`` is reached when everything received has been refunded (or exchanged); ``rejected``,
``cancelled`` and ``completed`` are final.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from mercato.platform.errors import IllegalTransition
from mercato.returns.errors import (
    NotReturnable,
    RefundAmountInvalid,
    ReturnQuantityInvalid,
    ReturnWindowClosed,
)


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    RECEIVED = "received"
    COMPLETED = "completed"


S = ReturnStatus

TRANSITIONS: dict[ReturnStatus, frozenset[ReturnStatus]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    S.APPROVED: frozenset({S.RECEIVED, S.CANCELLED}),
    S.RECEIVED: frozenset({S.COMPLETED}),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.COMPLETED: frozenset(),
}
FINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: Returns whose units are still on their way: they count against what may be requested again.
OPEN = frozenset({S.REQUESTED, S.APPROVED})
#: The customer may withdraw a request until the parcel is received.
CANCELLABLE = frozenset({S.REQUESTED, S.APPROVED})
#: An exchange's replacement order may be made once the return is approved (advance exchange).
EXCHANGEABLE = frozenset({S.APPROVED, S.RECEIVED})

#: Order statuses whose lines may come back (they were delivered).
DELIVERED_ORDER_STATUSES = frozenset({"delivered", "completed"})

REASONS = ("damaged", "defective", "wrong_item", "not_as_described", "size_or_fit", "no_longer_needed",
           "arrived_late", "other")
CONDITIONS = ("resellable", "damaged")
REQUESTERS = ("customer", "guest", "staff")
DEFAULT_WINDOW_DAYS = 30

#: The event each target status emits.
STATUS_EVENTS = {S.REQUESTED: "return.requested", S.APPROVED: "return.approved", S.REJECTED: "return.rejected",
                 S.RECEIVED: "return.received", S.CANCELLED: "return.cancelled", S.COMPLETED: "return.completed"}


def allowed_transitions(current: str) -> frozenset[str]:
    try:
        return frozenset(str(t) for t in TRANSITIONS[ReturnStatus(current)])
    except ValueError:
        return frozenset()


def check_transition(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` (409, listing what is allowed) unless ``current → target``."""
    allowed = allowed_transitions(current)
    if target not in allowed:
        raise IllegalTransition(current, target, list(allowed))


# --------------------------------------------------------------------------- window


def return_deadline(delivered_at: datetime, window_days: int) -> datetime:
    return delivered_at + timedelta(days=window_days)


def check_returnable_order(order_status: str, delivered_at: datetime | None, now: datetime,
                           window_days: int | None) -> None:
    """Only a delivered order, and only within the shop's window from its delivery (``None``: the
    window is waived — staff's goodwill)."""
    if order_status not in DELIVERED_ORDER_STATUSES or delivered_at is None:
        raise NotReturnable(f"the order is {order_status}: only delivered orders can be returned",
                            order_status=order_status)
    if window_days is None:
        return
    deadline = return_deadline(delivered_at, window_days)
    if now > deadline:
        raise ReturnWindowClosed(f"the {window_days}-day return window closed on {deadline:%Y-%m-%d}",
                                 deadline=deadline.isoformat(), window_days=window_days)


# --------------------------------------------------------------------------- quantities


@dataclass(frozen=True)
class LineStock:
    """What an order line can still send back: shipped, already returned, and on the way in open returns."""

    fulfilled: int
    returned: int = 0
    pending: int = 0

    @property
    def returnable(self) -> int:
        return max(0, self.fulfilled - self.returned - self.pending)


def check_quantities(stock: Mapping[Any, LineStock], requested: Sequence[tuple[Any, int]]) -> None:
    """Every requested line is on the order, appears once, and asks for no more than it can return."""
    if not requested:
        raise ReturnQuantityInvalid("a return needs at least one line", field="lines")
    seen: set[Any] = set()
    for i, (line_id, qty) in enumerate(requested):
        if line_id in seen:
            raise ReturnQuantityInvalid("each order line may appear once", field=f"lines[{i}].order_line_id")
        seen.add(line_id)
        if line_id not in stock:
            raise ReturnQuantityInvalid(f"line {line_id} is not part of this order", field=f"lines[{i}].order_line_id")
        left = stock[line_id].returnable
        if qty <= 0 or qty > left:
            raise ReturnQuantityInvalid(f"{qty} unit(s) cannot be returned: {left} delivered and not yet returned "
                                        "or requested", field=f"lines[{i}].quantity", returnable=left)


# --------------------------------------------------------------------------- money


def units_value(line_total: int, line_quantity: int, already_returned: int, quantity: int) -> int:
    """What ``quantity`` more units of a line are worth, given ``already_returned`` units came back
    before: the line's total (after discounts, with its tax) spread over its units so that returning
    every unit, in any number of parcels, gives back exactly the line's total — never a cent more."""
    if line_quantity <= 0 or quantity < 0 or already_returned < 0 or already_returned + quantity > line_quantity:
        raise ValueError("quantities out of range")
    return (line_total * (already_returned + quantity)) // line_quantity - (line_total * already_returned) // line_quantity


@dataclass(frozen=True)
class RefundSplit:
    items: int
    shipping: int

    @property
    def total(self) -> int:
        return self.items + self.shipping


def refund_split(*, items_left: int, shipping_left: int, include_shipping: bool, amount: int | None) -> RefundSplit:
    """How much of a return may be refunded now, and which part is the items and which the shipping.

    The ceiling is what the received items are worth minus what this return refunded already, plus
    (when asked) the order's shipping not yet refunded by any return. ``amount`` None means all of
    it; a partial amount is taken from the items first."""
    items_left, shipping_left = max(0, items_left), max(0, shipping_left) if include_shipping else 0
    ceiling = items_left + shipping_left
    if amount is None:
        amount = ceiling
    if amount <= 0 or amount > ceiling:
        raise RefundAmountInvalid(f"refund amount must be between 1 and {ceiling}" if ceiling else
                                  "nothing is left to refund on this return", field="amount", refundable=ceiling)
    items = min(amount, items_left)
    return RefundSplit(items=items, shipping=amount - items)


def allocate_to_payments(amount: int, refundable: Sequence[int]) -> list[int]:
    """Spread a refund over the order's payments, oldest first, each up to what it can still give
    back. Raises when all of them together cannot cover ``amount`` (never more than captured)."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    out, left = [], amount
    for available in refundable:
        take = min(max(0, available), left)
        out.append(take)
        left -= take
    if left > 0:
        raise RefundAmountInvalid(f"the order's payments can give back {amount - left} at most",
                                  field="amount", refundable=amount - left)
    return out


def allocate_credit(credit: int, line_totals: Sequence[int]) -> list[int]:
    """Spread an exchange credit over the replacement lines in proportion to their totals, never
    more than a line's total (the credit is capped at the replacement's total)."""
    total = sum(line_totals)
    credit = min(max(0, credit), total)
    if total == 0:
        return [0] * len(line_totals)
    shares = [credit * t // total for t in line_totals]
    rest = credit - sum(shares)
    for i in sorted(range(len(line_totals)), key=lambda i: (-(credit * line_totals[i] % total), i)):
        if rest == 0:
            break
        if shares[i] < line_totals[i]:
            shares[i] += 1
            rest -= 1
    return shares


@dataclass(frozen=True)
class ExchangeSettlement:
    """``charge`` > 0: the customer pays the difference; ``refund`` > 0: the shop gives it back."""

    credit_used: int
    charge: int
    refund: int


def exchange_settlement(replacement_total: int, credit: int) -> ExchangeSettlement:
    used = min(replacement_total, credit)
    return ExchangeSettlement(credit_used=used, charge=replacement_total - used, refund=credit - used)


def rma_number(order_number: str, sequence: int) -> str:
    """``RMA-20261123-7F3K-1``: the order's number (without ``ORD-``) and the return's rank on it."""
    return f"RMA-{order_number.removeprefix('ORD-')}-{sequence}"


def is_settled(*, status: str, items_value: int, items_refunded: int, exchange_pending: bool) -> bool:
    """A received return is complete once its items are refunded in full and its exchange is made."""
    return status == S.RECEIVED and items_refunded >= items_value and not exchange_pending


@dataclass(frozen=True)
class FailedRefundShare:
    items: int
    shipping: int
    exchange: int


def failed_refund_share(*, kind: str, amount: int, items_amount: int, shipping_amount: int) -> FailedRefundShare:
    """What a payment part of a return refund that the gateway failed later gives back to the
    return: items first (as when a gateway refuses at once), then shipping; an exchange
    difference lowers what the exchange refunded."""
    amount = max(0, amount)
    if kind == "exchange_difference":
        return FailedRefundShare(items=0, shipping=0, exchange=amount)
    items = min(amount, max(0, items_amount))
    shipping = min(amount - items, max(0, shipping_amount))
    return FailedRefundShare(items=items, shipping=shipping, exchange=0)
