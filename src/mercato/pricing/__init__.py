"""Pricing: the one function that turns lines, promotions, tax rates and shipping into
totals (shared by carts, checkout and order creation), and address validation. Public face."""

from mercato.pricing.addresses import Address, AddressIn, AddressInvalid, normalize_postal_code, validate_address
from mercato.pricing.domain import (
    DEFAULT_TAX_CLASS,
    PROMOTION_KINDS,
    AppliedPromotion,
    LineTotals,
    PriceLine,
    PromotionKind,
    PromotionRule,
    RejectedPromotion,
    Totals,
    allocate,
    price_cart,
    tax_exclusive,
    tax_inclusive,
)

__all__ = ["DEFAULT_TAX_CLASS", "PROMOTION_KINDS", "Address", "AddressIn", "AddressInvalid", "AppliedPromotion",
           "LineTotals", "PriceLine", "PromotionKind", "PromotionRule", "RejectedPromotion", "Totals", "allocate",
           "normalize_postal_code", "price_cart", "tax_exclusive", "tax_inclusive", "validate_address"]
