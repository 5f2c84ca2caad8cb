"""Return problems: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from mercato.platform.errors import Conflict, NotFound, ValidationFailed


class ReturnNotFound(NotFound):
    code, title = "return_not_found", "Return not found"


class NotReturnable(Conflict):
    code, title = "order_not_returnable", "This order cannot be returned (it was not delivered)"


class ReturnWindowClosed(Conflict):
    code, title = "return_window_closed", "The return window for this order has closed"


class ReturnQuantityInvalid(ValidationFailed):
    code, title = "return_quantity_invalid", "This quantity cannot be returned"


class ReturnLineInvalid(ValidationFailed):
    code, title = "return_line_invalid", "This return line is not valid"


class RefundAmountInvalid(Conflict):
    code, title = "refund_amount_invalid", "This refund amount is not possible for this return"


class RefundKeyReused(ValidationFailed):
    code, title = "idempotency_key_reused", "This idempotency key was used for a different refund"


class ExchangeInvalid(ValidationFailed):
    code, title = "exchange_invalid", "This exchange is not possible"


class ExchangeNotPossible(Conflict):
    code, title = "exchange_not_possible", "This return has no exchange to make, or it was made already"


class ExchangePaymentFailed(Conflict):
    code, title = "exchange_payment_failed", "The difference could not be charged"


class ReturnNotRefundable(Conflict):
    code, title = "return_not_refundable", "This return cannot be refunded now"


class TenantRequired(ValidationFailed):
    code, title = "tenant_required", "This request must name a shop (API key, host or X-Mercato-Tenant)"
