"""Order rules, in one place: the status machine with its guards, payment and fulfillment status
derived from facts, customer self-cancellation, order numbers, draft consistency. No I/O.

Status machine (``ORDER_TRANSITIONS``; guards in :func:`allowed_transitions`)::

    pending ──▶ paid ──▶ processing ──▶ partially_shipped ──▶ shipped ──▶ delivered ──▶ completed
       │          │          ▲  │              │  ▲ (more lines)
       │          │          │  └──────────────┼──┘
       ├──────────┼──────────┘ (pay later: cash on delivery, or an authorization captured later)
       ▼          ▼          ▼
    cancelled ◀───┴──────────┘   (from pending, paid, processing; never after shipping)

``completed`` and ``cancelled`` are final. Payment status and fulfillment status live beside the
status and are *derived* (from the payments' facts and the lines' shipped quantities).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from mercato.orders.errors import InvalidDraft, SelfCancelNotAllowed
from mercato.platform.errors import IllegalTransition

if TYPE_CHECKING:
    from mercato.orders.drafts import OrderDraft


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    PROCESSING = "processing"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    RETURNED = "returned"


S = OrderStatus

#: Every move the machine knows, before guards. ``partially_shipped → partially_shipped`` is more
#: lines leaving while others still wait.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.PAID, S.PROCESSING, S.CANCELLED}),
    S.PAID: frozenset({S.PROCESSING, S.CANCELLED}),
    S.PROCESSING: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED, S.CANCELLED}),
    S.PARTIALLY_SHIPPED: frozenset({S.PARTIALLY_SHIPPED, S.SHIPPED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL = frozenset(s for s, nxt in ORDER_TRANSITIONS.items() if not nxt)
CANCELLABLE = frozenset(s for s, nxt in ORDER_TRANSITIONS.items() if S.CANCELLED in nxt)
#: Before anything left the warehouse: the shipping address may still change.
BEFORE_SHIPMENT = frozenset({S.PENDING, S.PAID, S.PROCESSING})
#: A customer may cancel their own order only while nobody started working on it.
SELF_CANCELLABLE = frozenset({S.PENDING, S.PAID})
#: Targets staff may ask for through ``POST /orders/{id}/transitions`` (``paid`` needs a payment:
#: mark-paid; ``partially_shipped`` needs line quantities: the fulfillment service).
STAFF_TARGETS = frozenset({S.PROCESSING, S.SHIPPED, S.DELIVERED, S.COMPLETED, S.CANCELLED})

#: Money is in: the order may complete.
SETTLED_PAYMENTS = frozenset({PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED})

#: The event each target status emits.
STATUS_EVENTS: dict[OrderStatus, str] = {
    S.PAID: "order.paid",
    S.PROCESSING: "order.processing",
    S.PARTIALLY_SHIPPED: "order.partially_shipped",
    S.SHIPPED: "order.shipped",
    S.DELIVERED: "order.delivered",
    S.COMPLETED: "order.completed",
    S.CANCELLED: "order.cancelled",
}


@dataclass(frozen=True)
class OrderFacts:
    """What the guards look at besides the status."""

    payment_status: str = PaymentStatus.UNPAID
    #: Payment is collected later (cash on delivery): the order may be processed unpaid.
    pay_later: bool = False


def _guard(current: OrderStatus, target: OrderStatus, facts: OrderFacts) -> str | None:
    """Why ``current → target`` is blocked by a guard (None: it is not)."""
    payment = PaymentStatus(facts.payment_status)
    if target is S.PAID and payment not in SETTLED_PAYMENTS:
        return "an order becomes paid only when its payment is captured"
    if current is S.PENDING and target is S.PROCESSING and not (facts.pay_later or payment is PaymentStatus.AUTHORIZED):
        return "an unpaid order is processed only when paid later (cash on delivery) or authorized"
    if target is S.COMPLETED and payment not in SETTLED_PAYMENTS:
        return "an order completes only once it is paid"
    return None


def allowed_transitions(current: str, facts: OrderFacts = OrderFacts()) -> frozenset[str]:
    """The statuses ``current`` may move to now (guards applied). Unknown status: none."""
    try:
        status = OrderStatus(current)
    except ValueError:
        return frozenset()
    return frozenset(str(t) for t in ORDER_TRANSITIONS[status] if _guard(status, t, facts) is None)


def check_transition(current: str, target: str, facts: OrderFacts = OrderFacts()) -> None:
    """Raise :class:`IllegalTransition` (409, listing the allowed targets) unless the move is allowed now."""
    allowed = allowed_transitions(current, facts)
    if target in allowed:
        return
    extra = {}
    try:
        status, wanted = OrderStatus(current), OrderStatus(target)
    except ValueError:
        status = wanted = None  # type: ignore[assignment]
    if status is not None and wanted in ORDER_TRANSITIONS[status]:
        reason = _guard(status, wanted, facts)
        if reason:
            extra["blocked_by"] = reason
    raise IllegalTransition(current, target, list(allowed), **extra)


def check_staff_target(current: str, target: str, facts: OrderFacts = OrderFacts()) -> None:
    """Staff ask for a status by name: only :data:`STAFF_TARGETS`, and only along the machine."""
    allowed = allowed_transitions(current, facts) & {str(t) for t in STAFF_TARGETS}
    if target not in allowed:
        raise IllegalTransition(current, target, list(allowed))


# --------------------------------------------------------------------------- customer self-cancel


def check_self_cancel(status: str, placed_at: datetime, now: datetime, window_seconds: int) -> None:
    """A customer cancels their own order only while it is pending or paid, within the window."""
    if status not in SELF_CANCELLABLE:
        raise SelfCancelNotAllowed(f"an order that is {status} can no longer be cancelled here; contact the shop",
                                   order_status=status)
    deadline = placed_at + timedelta(seconds=window_seconds)
    if now > deadline:
        raise SelfCancelNotAllowed("the self-cancellation window has passed; contact the shop",
                                   order_status=status, deadline=deadline.isoformat())


# --------------------------------------------------------------------------- payment status


@dataclass(frozen=True)
class PaymentFact:
    """One payment attempt as the payments module reports it."""

    status: str  # pending | requires_action | authorized | captured | failed | cancelled | ...refunded
    amount_captured: int = 0
    amount_refunded: int = 0


def derive_payment_status(total: int, facts: Sequence[PaymentFact]) -> PaymentStatus:
    """The order's payment status from its payment attempts (oldest first), never guessed:

    * money captured: ``refunded`` when all of it went back, ``partially_refunded`` when some did,
      else ``paid`` (once what was captured covers the total; a short capture stays ``authorized``);
    * nothing captured: the latest attempt decides — ``authorized``, ``failed``, or ``unpaid``
      (pending, needs action, cancelled, or no attempt yet).
    """
    captured = sum(f.amount_captured for f in facts)
    refunded = sum(f.amount_refunded for f in facts)
    if captured > 0:
        if refunded >= captured:
            return PaymentStatus.REFUNDED
        if refunded > 0:
            return PaymentStatus.PARTIALLY_REFUNDED
        if captured >= total:
            return PaymentStatus.PAID
        return PaymentStatus.AUTHORIZED
    if any(f.status == "authorized" for f in facts):
        return PaymentStatus.AUTHORIZED
    if facts and facts[-1].status == "failed":
        return PaymentStatus.FAILED
    return PaymentStatus.UNPAID


#: Outcomes ``record_payment`` accepts and the payment status each implies when there are no
#: payment rows to derive from (an outside gateway reporting directly).
OUTCOME_STATUS: dict[str, PaymentStatus] = {
    "authorized": PaymentStatus.AUTHORIZED,
    "captured": PaymentStatus.PAID,
    "failed": PaymentStatus.FAILED,
    "cancelled": PaymentStatus.UNPAID,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
}

#: Order of precedence for a payment status that a late, stale report must not undo.
_PAYMENT_RANK = {PaymentStatus.UNPAID: 0, PaymentStatus.FAILED: 0, PaymentStatus.AUTHORIZED: 1,
                 PaymentStatus.PAID: 2, PaymentStatus.PARTIALLY_REFUNDED: 3, PaymentStatus.REFUNDED: 4}


def payment_status_from_outcome(current: str, outcome: str) -> PaymentStatus:
    """Without payment rows: apply an outcome, ignoring stale ones (a failure after a capture, say)."""
    now, new = PaymentStatus(current), OUTCOME_STATUS[outcome]
    if _PAYMENT_RANK[new] < _PAYMENT_RANK[now] or (now is PaymentStatus.REFUNDED):
        return now
    return new


# --------------------------------------------------------------------------- fulfillment


@dataclass(frozen=True)
class LineProgress:
    quantity: int
    fulfilled: int = 0
    returned: int = 0


def derive_fulfillment_status(lines: Iterable[LineProgress]) -> FulfillmentStatus:
    lines = list(lines)
    fulfilled = sum(line.fulfilled for line in lines)
    returned = sum(line.returned for line in lines)
    if fulfilled == 0:
        return FulfillmentStatus.UNFULFILLED
    if returned >= fulfilled:
        return FulfillmentStatus.RETURNED
    if all(line.fulfilled >= line.quantity for line in lines):
        return FulfillmentStatus.FULFILLED
    return FulfillmentStatus.PARTIALLY_FULFILLED


def shipment_target(lines: Iterable[LineProgress]) -> OrderStatus:
    """The status after a shipment: ``shipped`` once every unit left, else ``partially_shipped``."""
    return S.SHIPPED if all(line.fulfilled >= line.quantity for line in lines) else S.PARTIALLY_SHIPPED


# --------------------------------------------------------------------------- order numbers

#: Crockford's base32: no I, L, O, U — nothing to misread on the phone.
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NUMBER_SUFFIX_LENGTH = 4


def order_number(day: date, suffix: str | None = None) -> str:
    """``ORD-20261123-7F3K``: the day and 4 random base32 characters (callers retry on collision)."""
    if suffix is None:
        suffix = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(NUMBER_SUFFIX_LENGTH))
    return f"ORD-{day:%Y%m%d}-{suffix}"


# --------------------------------------------------------------------------- drafts


def check_draft(draft: OrderDraft) -> None:
    """The figures checkout computed must add up; a draft that does not is refused whole."""
    problems: list[str] = []
    if not draft.lines:
        problems.append("an order needs at least one line")
    if not draft.email or "@" not in draft.email:
        problems.append("email is required")
    for i, line in enumerate(draft.lines):
        if line.quantity <= 0:
            problems.append(f"lines[{i}].quantity must be positive")
        if min(line.unit_price, line.subtotal, line.discount, line.tax, line.total) < 0:
            problems.append(f"lines[{i}] has a negative amount")
        if line.subtotal != line.unit_price * line.quantity:
            problems.append(f"lines[{i}].subtotal is not unit_price × quantity")
    amounts = (draft.subtotal, draft.discount_total, draft.shipping_total, draft.shipping_discount,
               draft.tax_total, draft.total)
    if min(amounts) < 0:
        problems.append("totals must not be negative")
    if draft.lines and sum(line.subtotal for line in draft.lines) != draft.subtotal:
        problems.append("subtotal is not the sum of the lines' subtotals")
    if problems:
        raise InvalidDraft("; ".join(problems[:5]), problems=problems)
