"""Promotions: coupon codes (percentage, fixed amount, free shipping, buy X get Y), their
validity and stacking rules, and atomic redemption at order placement. Public face."""

from mercato.promotions.domain import normalize_code, to_rule
from mercato.promotions.errors import COUPON_ERRORS
from mercato.promotions.service import CartContext, check_coupon, redeem, rules_for_codes, unredeem

__all__ = ["COUPON_ERRORS", "CartContext", "check_coupon", "normalize_code", "redeem", "rules_for_codes", "to_rule",
           "unredeem"]
