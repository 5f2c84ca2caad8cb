"""Promotion use cases: admin CRUD, checking a code against a cart, redeeming at order placement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.platform.db import current_tenant
from mercato.platform.errors import MercatoError
from mercato.platform.money import check_currency
from mercato.pricing import PromotionRule, RejectedPromotion
from mercato.promotions import repository
from mercato.promotions.domain import (
    check_applicable,
    check_code,
    check_customer_uses,
    check_definition,
    check_stacking,
    check_valid_now,
    normalize_code,
    to_rule,
)
from mercato.promotions.errors import (
    CouponExhausted,
    CouponInvalid,
    PromotionCodeTaken,
    PromotionInUse,
    PromotionNotFound,
)
from mercato.promotions.models import Promotion
from mercato.promotions.schemas import PromotionCreate, PromotionUpdate

_FIELDS = tuple(PromotionCreate.model_fields)


def _now() -> datetime:
    return datetime.now(UTC)


def _jsonable(v: Any) -> Any:
    return [str(x) for x in v] if isinstance(v, list) else v


# --------------------------------------------------------------------------- admin CRUD


async def create_promotion(session: AsyncSession, data: PromotionCreate) -> Promotion:
    values = data.model_dump()
    values["code"] = check_code(values["code"])
    if values.get("currency"):
        values["currency"] = check_currency(values["currency"])
    check_definition(values)
    promotion = await repository.insert_promotion(session, {**values, "tenant_id": current_tenant(session)})
    if promotion is None:
        raise PromotionCodeTaken(f"code {values['code']!r} is already used by another promotion", field="code")
    await audit.record(session, action="promotion.created", resource_type="promotion", resource_id=promotion.id,
                       changes={k: {"from": None, "to": _jsonable(v)} for k, v in values.items() if v is not None})
    return promotion


async def get_promotion(session: AsyncSession, promotion_id: uuid.UUID) -> Promotion:
    promotion = await repository.get(session, promotion_id)
    if promotion is None:
        raise PromotionNotFound()
    return promotion


async def list_promotions(session: AsyncSession, *, limit: int, offset: int, code: str | None = None,
                          active: bool | None = None) -> list[Promotion]:
    return await repository.list_page(session, limit=limit, offset=offset,
                                      code=normalize_code(code) if code else None, active=active)


async def update_promotion(session: AsyncSession, promotion_id: uuid.UUID, data: PromotionUpdate) -> Promotion:
    promotion = await repository.get(session, promotion_id, for_update=True)
    if promotion is None:
        raise PromotionNotFound()
    changes = data.model_dump(exclude_unset=True)
    for required in ("code", "name", "kind", "product_ids", "category_ids", "combinable", "is_active"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    if "code" in changes:
        changes["code"] = check_code(changes["code"])
        if await repository.code_taken(session, changes["code"], promotion.id):
            raise PromotionCodeTaken(f"code {changes['code']!r} is already used by another promotion", field="code")
    if changes.get("currency"):
        changes["currency"] = check_currency(changes["currency"])
    merged = {k: getattr(promotion, k) for k in _FIELDS} | changes
    check_definition(merged)
    before = {k: _jsonable(getattr(promotion, k)) for k in changes}
    for key, value in changes.items():
        setattr(promotion, key, value)
    await session.flush()
    await session.refresh(promotion)
    await audit.record(session, action="promotion.updated", resource_type="promotion", resource_id=promotion.id,
                       changes=audit.diff(before, {k: _jsonable(v) for k, v in changes.items()}))
    return promotion


async def delete_promotion(session: AsyncSession, promotion_id: uuid.UUID) -> None:
    promotion = await repository.get(session, promotion_id, for_update=True)
    if promotion is None:
        raise PromotionNotFound()
    if promotion.usage_count > 0 or await repository.has_redemptions(session, promotion.id):
        raise PromotionInUse()
    await repository.delete_promotion(session, promotion)
    await audit.record(session, action="promotion.deleted", resource_type="promotion", resource_id=promotion_id,
                       changes={"code": {"from": promotion.code, "to": None}})


# --------------------------------------------------------------------------- coupons on carts and checkouts


@dataclass(frozen=True)
class CartContext:
    """What a coupon check needs to know of the cart (or checkout) as it is now."""

    subtotal: int
    currency: str | None
    product_ids: Sequence[uuid.UUID] = ()
    category_ids: Sequence[uuid.UUID | None] = ()
    customer_key: str | None = None


async def check_coupon(session: AsyncSession, code: str, *, applied_codes: Sequence[str], cart: CartContext,
                       now: datetime | None = None) -> Promotion:
    """The promotion behind ``code`` if it can be applied to this cart now, else the problem naming why
    (``coupon_invalid``, ``coupon_expired``, ``coupon_not_started``, ``coupon_exhausted``,
    ``coupon_minimum_not_met``, ``coupon_not_applicable``, ``coupon_currency_mismatch``,
    ``coupon_not_combinable``)."""
    normalized = normalize_code(code)
    promotion = await repository.get_by_code(session, normalized) if normalized else None
    if promotion is None:
        raise CouponInvalid(f"no coupon with code {code.strip()!r}", field="code")
    check_valid_now(promotion, now or _now())
    if cart.customer_key and promotion.per_customer_limit is not None:
        check_customer_uses(promotion, await repository.count_customer_redemptions(
            session, promotion.id, cart.customer_key))
    check_applicable(promotion, subtotal=cart.subtotal, currency=cart.currency, product_ids=cart.product_ids,
                     category_ids=cart.category_ids)
    applied = await repository.list_by_codes(session, [c for c in applied_codes if c != normalized])
    check_stacking(applied, promotion)
    return promotion


async def rules_for_codes(session: AsyncSession, codes: Sequence[str], *, customer_key: str | None = None,
                          now: datetime | None = None) -> tuple[list[PromotionRule], list[RejectedPromotion]]:
    """Pricing rules for the codes on a cart, in order. Codes that stopped being usable since they
    were applied (deleted, deactivated, expired, used up) come back as rejections with the reason;
    cart-dependent reasons (minimum, targets, currency) are decided by the pricing function."""
    now = now or _now()
    by_code = {p.code: p for p in await repository.list_by_codes(session, codes)}
    rules: list[PromotionRule] = []
    rejected: list[RejectedPromotion] = []
    for code in codes:
        promotion = by_code.get(code)
        if promotion is None:
            rejected.append(RejectedPromotion(None, code, CouponInvalid.code))
            continue
        try:
            check_valid_now(promotion, now)
            if customer_key and promotion.per_customer_limit is not None:
                check_customer_uses(promotion, await repository.count_customer_redemptions(
                    session, promotion.id, customer_key))
        except MercatoError as exc:  # coupon_invalid / _expired / _not_started / _exhausted
            if not exc.code.startswith("coupon_"):
                raise
            rejected.append(RejectedPromotion(promotion.id, code, exc.code))
            continue
        rules.append(to_rule(promotion))
    return rules, rejected


# --------------------------------------------------------------------------- redemption at order placement


async def redeem(session: AsyncSession, promotion_id: uuid.UUID, customer_key: str, order_id: uuid.UUID,
                 *, now: datetime | None = None) -> None:
    """Count one use of a promotion by a placed order, atomically, in the caller's transaction.

    The total limit is one conditional ``UPDATE … WHERE usage_count < usage_limit`` (which also
    row-locks the promotion, serializing concurrent redemptions of it); the per-customer limit is
    then counted under that lock. Raises ``coupon_exhausted`` (or why the code stopped being valid),
    which must abort the order placement. Redeeming the same order twice is a no-op.
    """
    now = now or _now()
    customer_key = customer_key.strip().lower()
    if await repository.find_redemption(session, promotion_id, order_id) is not None:
        return
    promotion = await repository.take_one_use(session, promotion_id, now)
    if promotion is None:
        current = await repository.get(session, promotion_id)
        if current is None:
            raise CouponInvalid("the coupon no longer exists", field="code")
        check_valid_now(current, now)  # raises the precise reason
        raise CouponExhausted(f"coupon {current.code!r} has been used up", field="code", scope="total")
    if promotion.per_customer_limit is not None:
        # the promotion row is locked by this transaction: the count cannot change under us
        uses = await repository.count_customer_redemptions(session, promotion_id, customer_key)
        check_customer_uses(promotion, uses)
    await repository.insert_redemption(session, tenant_id=promotion.tenant_id, promotion_id=promotion_id,
                                       customer_key=customer_key, order_id=order_id)


async def unredeem(session: AsyncSession, promotion_id: uuid.UUID, order_id: uuid.UUID) -> bool:
    """Give back the use an order took (order cancelled). Idempotent: False if there was none."""
    await repository.get(session, promotion_id, for_update=True)
    if not await repository.delete_redemption(session, promotion_id, order_id):
        return False
    await repository.give_back_one_use(session, promotion_id)
    return True
