"""Event types the payments module publishes (outbox, same transaction as the change).

Every event's ``data`` carries ``payment_id``, ``order_id``, ``amount``, ``currency`` and
``method``; refund events add ``refund_id``, ``reason`` and the payment's refund totals.
Aggregate: ``("payment", payment_id)`` for all of them, so a payment's events stay in order.
"""

from __future__ import annotations

PAYMENT_CREATED = "payment.created"
PAYMENT_REQUIRES_ACTION = "payment.requires_action"
PAYMENT_AUTHORIZED = "payment.authorized"
PAYMENT_CAPTURED = "payment.captured"
PAYMENT_FAILED = "payment.failed"
PAYMENT_CANCELLED = "payment.cancelled"
REFUND_CREATED = "refund.created"
REFUND_SUCCEEDED = "refund.succeeded"
REFUND_FAILED = "refund.failed"

#: The event a payment entering a status emits (``pending`` emits none: ``payment.created`` covers it).
STATUS_EVENTS = {
    "requires_action": PAYMENT_REQUIRES_ACTION,
    "authorized": PAYMENT_AUTHORIZED,
    "captured": PAYMENT_CAPTURED,
    "failed": PAYMENT_FAILED,
    "cancelled": PAYMENT_CANCELLED,
}

ALL = (PAYMENT_CREATED, PAYMENT_REQUIRES_ACTION, PAYMENT_AUTHORIZED, PAYMENT_CAPTURED, PAYMENT_FAILED,
       PAYMENT_CANCELLED, REFUND_CREATED, REFUND_SUCCEEDED, REFUND_FAILED)
