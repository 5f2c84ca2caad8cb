"""Payments: attempts per order through the test, manual (cash on delivery) and Stripe gateways,
refunds, Stripe webhooks, a circuit breaker per gateway. Public face.

Other modules (checkout, orders) call these functions inside their own transaction and react
to the events in :mod:`mercato.payments.events` (``payment.captured``, ``refund.succeeded``, …).
"""

from mercato.payments import events
from mercato.payments.domain import PaymentStatus, RefundStatus
from mercato.payments.errors import PaymentGatewayUnavailable, PaymentNotFound, RefundExceedsCaptured
from mercato.payments.schemas import Payment, PaymentResult, Refund, RefundResult
from mercato.payments.service import (
    cancel,
    capture,
    confirm_payment,
    get_payment,
    get_payments_for_order,
    mark_paid,
    refund,
    start_payment,
)

__all__ = ["Payment", "PaymentGatewayUnavailable", "PaymentNotFound", "PaymentResult", "PaymentStatus", "Refund",
           "RefundExceedsCaptured", "RefundResult", "RefundStatus", "cancel", "capture", "confirm_payment", "events",
           "get_payment", "get_payments_for_order", "mark_paid", "refund", "start_payment"]
