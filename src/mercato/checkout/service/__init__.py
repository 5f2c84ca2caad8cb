"""Checkout use cases. Services flush, never commit: the request is the unit of work."""

from mercato.checkout.service.common import Actor, Providers, cart_row, load, price, price_as_ordered
from mercato.checkout.service.completion import Completion, build_draft, complete
from mercato.checkout.service.flow import (
    apply_coupon,
    remove_coupon,
    set_billing_address,
    set_payment_method,
    set_shipping_address,
    set_shipping_method,
    shipping_options,
    start,
    update,
)

__all__ = [
    "Actor",
    "Completion",
    "Providers",
    "apply_coupon",
    "build_draft",
    "cart_row",
    "complete",
    "load",
    "price",
    "price_as_ordered",
    "remove_coupon",
    "set_billing_address",
    "set_payment_method",
    "set_shipping_address",
    "set_shipping_method",
    "shipping_options",
    "start",
    "update",
]
