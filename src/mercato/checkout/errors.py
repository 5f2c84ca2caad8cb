"""Checkout problems: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from mercato.platform.errors import BadRequest, Conflict, MercatoError, NotFound, ValidationFailed


class CheckoutNotFound(NotFound):
    """Also what someone else's checkout looks like: never 403, so ids cannot be probed."""

    code, title = "checkout_not_found", "Checkout not found"


class EmailRequired(ValidationFailed):
    code, title = "email_required", "A guest checkout needs an e-mail address"


class CheckoutNotActive(Conflict):
    code, title = "checkout_not_active", "This checkout is no longer open"


class CheckoutAlreadyOpen(Conflict):
    code, title = "checkout_already_open", "This cart already has an open checkout"


class CartEmpty(Conflict):
    code, title = "cart_empty", "The cart has no items that can be bought"


class LinesUnavailable(Conflict):
    code, title = "lines_unavailable", "Some items can no longer be bought"


class ShippingAddressRequired(Conflict):
    code, title = "shipping_address_required", "Set a shipping address first"


class ShippingMethodRequired(Conflict):
    code, title = "shipping_method_required", "Choose a shipping method first"


class PaymentMethodRequired(Conflict):
    code, title = "payment_method_required", "Choose a payment method first"


class PaymentMethodUnavailable(ValidationFailed):
    code, title = "payment_method_unavailable", "This payment method is not available"


class IdempotencyKeyRequired(BadRequest):
    code, title = "idempotency_key_required", "Send an Idempotency-Key header to complete a checkout"


class PaymentDeclined(MercatoError):
    """Rendered (not raised) by ``complete``: the order and the failed attempt are kept."""

    status, code, title = 402, "payment_declined", "The payment was declined"


class OrderAmountChanged(Conflict):
    code, title = "checkout_changed", "The cart changed after the order was placed"


class CouponNotOnCheckout(NotFound):
    code, title = "coupon_not_applied", "This coupon is not applied to the checkout"


class ReservationLapsed(Conflict):
    code, title = "reservation_expired", "The stock held for this order was released; start a new checkout"
