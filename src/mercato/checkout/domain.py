"""Checkout rules: the status machine, lifetimes, reservation renewal and demand, coupon keys.

Pure functions, no I/O: the service loads, asks these, and writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from mercato.platform.errors import IllegalTransition


class CheckoutStatus(StrEnum):
    OPEN = "open"
    #: stock is reserved (or an order is placed and awaits a successful payment)
    PAYMENT_PENDING = "payment_pending"
    COMPLETED = "completed"
    EXPIRED = "expired"
    ABANDONED = "abandoned"


S = CheckoutStatus
TRANSITIONS: dict[CheckoutStatus, frozenset[CheckoutStatus]] = {
    S.OPEN: frozenset({S.PAYMENT_PENDING, S.COMPLETED, S.EXPIRED, S.ABANDONED}),
    # back to open when the reservation ran out before the customer paid
    S.PAYMENT_PENDING: frozenset({S.OPEN, S.COMPLETED, S.EXPIRED, S.ABANDONED}),
    S.COMPLETED: frozenset(),
    S.EXPIRED: frozenset(),
    S.ABANDONED: frozenset(),
}
ACTIVE = frozenset({S.OPEN, S.PAYMENT_PENDING})
PAYMENT_METHODS = ("test", "manual", "stripe")

#: An open checkout lives this long after its last interaction (then it is expired).
CHECKOUT_TTL = timedelta(hours=24)
#: A reservation is renewed on an interaction only when it has less than its TTL minus this left,
#: so a busy storefront does not write the reservation on every request.
RENEW_SLACK = timedelta(seconds=60)


#: A checkout with no request for this long is abandoned by the worker (``checkout.tasks``); the
#: default of ``MERCATO_CHECKOUT_ABANDON_AFTER_MINUTES``. Never longer than the checkout's lifetime.
DEFAULT_ABANDON_AFTER = timedelta(hours=1)


def abandon_after(minutes: str | None) -> timedelta:
    """The idle time after which a checkout is abandoned: the setting in minutes (a positive number),
    else the default; capped at :data:`CHECKOUT_TTL` (a checkout that old is over anyway)."""
    try:
        value = timedelta(minutes=float(minutes)) if minutes not in (None, "") else DEFAULT_ABANDON_AFTER
    except (TypeError, ValueError):
        value = DEFAULT_ABANDON_AFTER
    if value <= timedelta(0):
        value = DEFAULT_ABANDON_AFTER
    return min(value, CHECKOUT_TTL)


def idle_expiry_cutoff(now: datetime, idle_for: timedelta) -> datetime:
    """Every interaction sets ``expires_at = now + CHECKOUT_TTL``: a checkout idle for at least
    ``idle_for`` is one whose ``expires_at`` is at or before this."""
    return now - idle_for + CHECKOUT_TTL


def check_transition(current: str, target: CheckoutStatus) -> CheckoutStatus:
    allowed = TRANSITIONS[CheckoutStatus(current)]
    if target not in allowed:
        raise IllegalTransition(current, target.value, sorted(a.value for a in allowed))
    return target


def is_active(status: str) -> bool:
    return CheckoutStatus(status) in ACTIVE


def checkout_expiry(now: datetime) -> datetime:
    return now + CHECKOUT_TTL


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return expires_at <= now


def needs_renewal(reservation_expires_at: datetime | None, now: datetime, ttl_seconds: int) -> bool:
    """Renew a hold whose remaining time dropped below ``ttl - RENEW_SLACK`` (at most once a minute)."""
    if reservation_expires_at is None:
        return False
    return reservation_expires_at - now < timedelta(seconds=ttl_seconds) - RENEW_SLACK


def demand(lines: Iterable[tuple[uuid.UUID, int]]) -> dict[uuid.UUID, int]:
    """Units per variant (lines of the same variant summed; non-positive quantities dropped)."""
    out: dict[uuid.UUID, int] = {}
    for variant_id, quantity in lines:
        if quantity > 0:
            out[variant_id] = out.get(variant_id, 0) + quantity
    return out


def reservation_matches(held: Mapping[uuid.UUID, int], wanted: Mapping[uuid.UUID, int]) -> bool:
    """A reservation still fits the cart when it holds exactly what the cart now asks for."""
    return dict(held) == dict(wanted)


def customer_key(customer_id: uuid.UUID | None, email: str | None) -> str:
    """Whose use of a coupon this is: the customer's id, else the guest's e-mail (lower-cased)."""
    if customer_id is not None:
        return str(customer_id)
    if not email:
        raise ValueError("a guest checkout needs an e-mail")
    return email.strip().lower()


def payment_idempotency_key(checkout_id: uuid.UUID, request_key: str) -> str:
    """The key toward payments: one attempt per (checkout, Idempotency-Key); a new key is a new attempt."""
    return f"checkout:{checkout_id}:{request_key}"[:255]


def completes_checkout(payment_status: str | None) -> bool:
    """A payment outcome that ends the checkout: anything but a failure (declined or cancelled).
    ``pending`` (manual, Stripe awaiting the customer) and ``requires_action`` complete it too;
    the order tracks the payment from there."""
    return payment_status not in ("failed", "cancelled")
