"""Carts: guest (token) and customer carts, live-priced on every read by the shared pricing
function; merge on login. Public face (checkout prices a cart with :func:`price`)."""

from mercato.cart.auth import providers, storefront_actor
from mercato.cart.domain import CART_TOKEN_HEADER, GUEST_CART_TTL, MAX_LINE_QUANTITY
from mercato.cart.service import (
           Actor,
           PricedCart,
           PricedLine,
           Providers,
           current_cart,
           load_cart,
           mark_converted,
           price,
)

__all__ = ["CART_TOKEN_HEADER", "GUEST_CART_TTL", "MAX_LINE_QUANTITY", "Actor", "PricedCart", "PricedLine",
           "Providers", "current_cart", "load_cart", "mark_converted", "price", "providers", "storefront_actor"]
