"""Promotion rules: code normalization, definition checks, validity at a moment, stacking.

Pure functions over anything shaped like a promotion (the ORM row or a test double);
the discount arithmetic itself is :func:`mercato.pricing.price_cart`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from mercato.platform.errors import ValidationFailed
from mercato.pricing import PromotionRule
from mercato.promotions.errors import (
    CouponCurrencyMismatch,
    CouponExhausted,
    CouponExpired,
    CouponInvalid,
    CouponMinimumNotMet,
    CouponNotApplicable,
    CouponNotCombinable,
    CouponNotStarted,
)

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,63}$")


class PromotionLike(Protocol):
    id: Any
    code: str
    kind: str
    percent: Decimal | None
    amount_cents: int | None
    currency: str | None
    product_ids: Sequence[uuid.UUID]
    category_ids: Sequence[uuid.UUID]
    buy_quantity: int | None
    get_quantity: int | None
    minimum_subtotal_cents: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    usage_count: int
    per_customer_limit: int | None
    combinable: bool
    is_active: bool


def normalize_code(code: str) -> str:
    """Codes are case-insensitive: stored and compared upper-cased, surrounding blanks ignored."""
    return (code or "").strip().upper()


def check_code(code: str, field: str = "code") -> str:
    normalized = normalize_code(code)
    if not CODE_PATTERN.match(normalized):
        raise ValidationFailed("code must be 2–64 letters, digits, '-' or '_'", field=field)
    return normalized


def check_definition(v: Mapping[str, Any]) -> None:
    """What each kind needs (``v``: the promotion's full values after a create or update)."""
    kind = v["kind"]
    if kind == "percentage_off" and not (v.get("percent") is not None and 0 < Decimal(v["percent"]) <= 100):
        raise ValidationFailed("percentage_off needs 0 < percent <= 100", field="percent")
    if kind == "fixed_amount_off" and not (v.get("amount_cents") or 0) > 0:
        raise ValidationFailed("fixed_amount_off needs amount_cents > 0", field="amount_cents")
    if kind == "buy_x_get_y":
        if not (v.get("buy_quantity") or 0) >= 1:
            raise ValidationFailed("buy_x_get_y needs buy_quantity >= 1", field="buy_quantity")
        if not (v.get("get_quantity") or 0) >= 1:
            raise ValidationFailed("buy_x_get_y needs get_quantity >= 1", field="get_quantity")
        if v.get("percent") is not None and not 0 < Decimal(v["percent"]) <= 100:
            raise ValidationFailed("buy_x_get_y percent (off the free units) must be in (0, 100]", field="percent")
    if (v.get("amount_cents") is not None or v.get("minimum_subtotal_cents") is not None) and not v.get("currency"):
        raise ValidationFailed("an amount or a minimum subtotal needs a currency", field="currency")
    if v.get("starts_at") and v.get("ends_at") and v["ends_at"] <= v["starts_at"]:
        raise ValidationFailed("ends_at must be after starts_at", field="ends_at")


def check_valid_now(p: PromotionLike, now: datetime) -> None:
    """Active, inside its date window, and not used up (total usage)."""
    if not p.is_active:
        raise CouponInvalid(f"coupon {p.code!r} is not active", field="code")
    if p.starts_at is not None and now < p.starts_at:
        raise CouponNotStarted(f"coupon {p.code!r} is valid from {p.starts_at.isoformat()}", field="code",
                               starts_at=p.starts_at.isoformat())
    if p.ends_at is not None and now >= p.ends_at:
        raise CouponExpired(f"coupon {p.code!r} expired at {p.ends_at.isoformat()}", field="code",
                            ends_at=p.ends_at.isoformat())
    if p.usage_limit is not None and p.usage_count >= p.usage_limit:
        raise CouponExhausted(f"coupon {p.code!r} has been used up", field="code", scope="total")


def check_customer_uses(p: PromotionLike, uses: int) -> None:
    if p.per_customer_limit is not None and uses >= p.per_customer_limit:
        raise CouponExhausted(f"you have already used coupon {p.code!r} the maximum number of times", field="code",
                              scope="customer")


def check_stacking(applied: Sequence[PromotionLike], new: PromotionLike) -> None:
    """One code per cart/order, unless the new one and every applied one are combinable."""
    others = [p for p in applied if p.code != new.code]
    if others and not (new.combinable and all(p.combinable for p in others)):
        blocking = next((p.code for p in others if not p.combinable), others[0].code)
        raise CouponNotCombinable(f"coupon {new.code!r} cannot be combined with {blocking!r}", field="code",
                                  applied_codes=[p.code for p in others])


def check_applicable(p: PromotionLike, *, subtotal: int, currency: str | None,
                     product_ids: Sequence[Any] = (), category_ids: Sequence[Any] = ()) -> None:
    """The cart as it is now qualifies: currency, minimum subtotal, at least one targeted item."""
    if currency and p.currency and p.currency != currency and (p.amount_cents or p.minimum_subtotal_cents):
        raise CouponCurrencyMismatch(f"coupon {p.code!r} is for {p.currency} amounts, the cart is in {currency}",
                                     field="code")
    if p.minimum_subtotal_cents is not None and subtotal < p.minimum_subtotal_cents:
        raise CouponMinimumNotMet(
            f"coupon {p.code!r} needs a subtotal of at least {p.minimum_subtotal_cents} {p.currency or ''}".strip(),
            field="code", minimum_subtotal=p.minimum_subtotal_cents, currency=p.currency)
    targeted = bool(p.product_ids or p.category_ids)
    if p.kind != "free_shipping" and targeted and not (
            set(product_ids) & set(p.product_ids) or set(c for c in category_ids if c) & set(p.category_ids)):
        raise CouponNotApplicable(f"no item in the cart qualifies for coupon {p.code!r}", field="code")


def to_rule(p: PromotionLike) -> PromotionRule:
    """The promotion as the pricing function takes it."""
    percent = p.percent
    if p.kind == "buy_x_get_y" and percent is None:
        percent = Decimal(100)
    return PromotionRule(
        id=p.id, code=p.code, kind=p.kind,  # type: ignore[arg-type]
        percent=Decimal(percent) if percent is not None else None, amount=p.amount_cents, currency=p.currency,
        product_ids=frozenset(p.product_ids or ()), category_ids=frozenset(p.category_ids or ()),
        buy_quantity=p.buy_quantity or 0, get_quantity=p.get_quantity or 0,
        minimum_subtotal=p.minimum_subtotal_cents)
