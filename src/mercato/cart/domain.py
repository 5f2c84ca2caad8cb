"""Cart rules: quantity limits, one currency per cart, guest cart lifetime, merging, warnings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from mercato.cart.errors import CartCurrencyMismatch, QuantityInvalid

#: Most units of one variant a cart line may hold.
MAX_LINE_QUANTITY = 99
#: Most distinct lines in one cart.
MAX_LINES = 100
#: A guest cart lives this long after its last change (customer carts do not expire).
GUEST_CART_TTL = timedelta(days=30)
CART_TOKEN_HEADER = "X-Cart-Token"


def check_quantity(quantity: int, field: str = "quantity") -> int:
    if quantity < 1 or quantity > MAX_LINE_QUANTITY:
        raise QuantityInvalid(f"quantity must be between 1 and {MAX_LINE_QUANTITY}", field=field,
                              max_quantity=MAX_LINE_QUANTITY)
    return quantity


def added_quantity(existing: int, added: int) -> int:
    """Adding to a line that exists sums the quantities; past the maximum is refused."""
    check_quantity(added)
    total = existing + added
    if total > MAX_LINE_QUANTITY:
        raise QuantityInvalid(f"the cart already holds {existing}; at most {MAX_LINE_QUANTITY} per line",
                              field="quantity", max_quantity=MAX_LINE_QUANTITY)
    return total


def merged_quantity(a: int, b: int) -> int:
    """Merging a guest cart sums quantities, capped at the maximum (never refused)."""
    return min(a + b, MAX_LINE_QUANTITY)


def check_currency(cart_currency: str | None, variant_currency: str) -> str:
    """A cart is in one currency: the first line's. Returns the cart's (possibly new) currency."""
    if cart_currency and cart_currency != variant_currency:
        raise CartCurrencyMismatch(f"the cart is in {cart_currency}; this variant is priced in {variant_currency}",
                                   field="variant_id", cart_currency=cart_currency, variant_currency=variant_currency)
    return variant_currency


def guest_expiry(now: datetime) -> datetime:
    return now + GUEST_CART_TTL


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def availability_warning(quantity: int, availability: Mapping[str, Any] | None, allow_backorder: bool) -> str | None:
    """``out_of_stock`` / ``insufficient_stock`` from an availability record ({available, status})."""
    if not availability or allow_backorder:
        return None
    available = availability.get("available")
    status = availability.get("status")
    if status == "out_of_stock" or (isinstance(available, int) and available <= 0):
        return "out_of_stock"
    if isinstance(available, int) and available < quantity:
        return "insufficient_stock"
    return None
