"""Problems a coupon can have, each naming why (stable ``code`` values clients can switch on)."""

from mercato.platform.errors import AlreadyExists, Conflict, NotFound, ValidationFailed


class PromotionNotFound(NotFound):
    code, title = "promotion_not_found", "Promotion not found"


class PromotionCodeTaken(AlreadyExists):
    code, title = "promotion_code_taken", "A promotion with this code already exists"


class PromotionInUse(Conflict):
    code, title = "promotion_in_use", "The promotion has been redeemed; deactivate it instead of deleting it"


class CouponInvalid(ValidationFailed):
    code, title = "coupon_invalid", "Unknown or inactive coupon code"


class CouponExpired(ValidationFailed):
    code, title = "coupon_expired", "The coupon has expired"


class CouponNotStarted(ValidationFailed):
    code, title = "coupon_not_started", "The coupon is not valid yet"


class CouponExhausted(Conflict):
    code, title = "coupon_exhausted", "The coupon has reached its usage limit"


class CouponMinimumNotMet(ValidationFailed):
    code, title = "coupon_minimum_not_met", "The order does not reach the coupon's minimum subtotal"


class CouponNotApplicable(ValidationFailed):
    code, title = "coupon_not_applicable", "No item in the cart qualifies for the coupon"


class CouponCurrencyMismatch(ValidationFailed):
    code, title = "coupon_currency_mismatch", "The coupon is for another currency"


class CouponNotCombinable(Conflict):
    code, title = "coupon_not_combinable", "The coupon cannot be combined with the coupon already applied"


#: Problem code → error class (to re-raise a reason found by pricing as a problem).
COUPON_ERRORS = {cls.code: cls for cls in (CouponInvalid, CouponExpired, CouponNotStarted, CouponExhausted,
                                           CouponMinimumNotMet, CouponNotApplicable, CouponCurrencyMismatch,
                                           CouponNotCombinable)}
