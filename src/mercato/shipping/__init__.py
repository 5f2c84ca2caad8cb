"""Shipping: zones (countries/regions), methods with rates (flat, weight or subtotal brackets,
free above a threshold), and the options offered for an address and a cart. Public face."""

from mercato.shipping.errors import ShippingMethodUnavailable
from mercato.shipping.service import ShippingOption, available_methods, quote

__all__ = ["ShippingMethodUnavailable", "ShippingOption", "available_methods", "quote"]
