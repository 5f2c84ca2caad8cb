"""Payment domain errors: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from typing import Any

from mercato.platform.errors import BadRequest, Conflict, MercatoError, NotFound, ServiceUnavailable, ValidationFailed


class PaymentNotFound(NotFound):
    code, title = "payment_not_found", "Payment not found"


class RefundExceedsCaptured(Conflict):
    code, title = "refund_exceeds_captured", "Refund exceeds the captured amount not yet refunded"


class PaymentMethodUnavailable(ValidationFailed):
    code, title = "payment_method_unavailable", "This payment method is not available"


class InvalidPaymentData(ValidationFailed):
    code, title = "invalid_payment_data", "The payment data is invalid for this payment method"


class IdempotencyKeyReused(ValidationFailed):
    code, title = "idempotency_key_reused", "This idempotency key was used for a different payment"


class PaymentNotCapturable(Conflict):
    code, title = "payment_not_capturable", "The payment cannot be captured"


class PaymentGatewayUnavailable(ServiceUnavailable):
    """The gateway is failing (circuit open, timeout, network or 5xx): nothing was charged here; retry later."""

    code, title = "payment_gateway_unavailable", "Payment gateway unavailable, try again later"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        super().__init__(detail or "the payment gateway is unavailable; try again later", **kw)


class PaymentGatewayError(MercatoError):
    """The gateway refused the request itself (configuration or programming error), not the card."""

    status, code, title = 502, "payment_gateway_error", "The payment gateway rejected the request"


class InvalidSignature(BadRequest):
    code, title = "invalid_signature", "Invalid webhook signature"


class WebhookNotConfigured(ServiceUnavailable):
    code, title = "webhook_not_configured", "Webhook secret not configured"
