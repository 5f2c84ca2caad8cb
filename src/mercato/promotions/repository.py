"""Every query of the promotions module (RLS scopes them to the session's tenant)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.promotions.models import Promotion, PromotionRedemption


async def insert_promotion(session: AsyncSession, values: dict[str, Any]) -> Promotion | None:
    """Insert, or None when the code is taken (no exception, no aborted transaction)."""
    stmt = (insert(Promotion).values(**values)
            .on_conflict_do_nothing(constraint="uq_promotions_tenant_code").returning(Promotion))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get(session: AsyncSession, promotion_id: uuid.UUID, *, for_update: bool = False) -> Promotion | None:
    q = select(Promotion).where(Promotion.id == promotion_id)
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def get_by_code(session: AsyncSession, code: str) -> Promotion | None:
    return (await session.execute(select(Promotion).where(Promotion.code == code))).scalar_one_or_none()


async def list_by_codes(session: AsyncSession, codes: Collection[str]) -> list[Promotion]:
    if not codes:
        return []
    return list((await session.execute(select(Promotion).where(Promotion.code.in_(list(codes))))).scalars())


async def code_taken(session: AsyncSession, code: str, except_id: uuid.UUID) -> bool:
    q = select(func.count()).select_from(Promotion).where(Promotion.code == code, Promotion.id != except_id)
    return bool((await session.execute(q)).scalar_one())


async def list_page(session: AsyncSession, *, limit: int, offset: int, code: str | None,
                    active: bool | None) -> list[Promotion]:
    q = select(Promotion).order_by(Promotion.created_at.desc(), Promotion.id.desc()).limit(limit + 1).offset(offset)
    if code:
        q = q.where(Promotion.code.startswith(code, autoescape=True))
    if active is not None:
        q = q.where(Promotion.is_active.is_(active))
    return list((await session.execute(q)).scalars())


async def delete_promotion(session: AsyncSession, promotion: Promotion) -> None:
    await session.delete(promotion)
    await session.flush()


async def count_customer_redemptions(session: AsyncSession, promotion_id: uuid.UUID, customer_key: str) -> int:
    q = select(func.count()).select_from(PromotionRedemption).where(
        PromotionRedemption.promotion_id == promotion_id, PromotionRedemption.customer_key == customer_key)
    return int((await session.execute(q)).scalar_one())


async def find_redemption(session: AsyncSession, promotion_id: uuid.UUID,
                          order_id: uuid.UUID) -> PromotionRedemption | None:
    q = select(PromotionRedemption).where(PromotionRedemption.promotion_id == promotion_id,
                                          PromotionRedemption.order_id == order_id)
    return (await session.execute(q)).scalar_one_or_none()


async def take_one_use(session: AsyncSession, promotion_id: uuid.UUID, now: datetime) -> Promotion | None:
    """The atomic usage check: one conditional UPDATE. It row-locks the promotion, so concurrent
    redemptions of one code queue here and each re-checks ``usage_count`` after the previous commits."""
    stmt = (update(Promotion)
            .where(Promotion.id == promotion_id, Promotion.is_active.is_(True),
                   or_(Promotion.usage_limit.is_(None), Promotion.usage_count < Promotion.usage_limit),
                   or_(Promotion.starts_at.is_(None), Promotion.starts_at <= now),
                   or_(Promotion.ends_at.is_(None), Promotion.ends_at > now))
            .values(usage_count=Promotion.usage_count + 1)
            .returning(Promotion)
            .execution_options(synchronize_session=False))
    return (await session.execute(stmt)).scalar_one_or_none()


async def give_back_one_use(session: AsyncSession, promotion_id: uuid.UUID) -> None:
    await session.execute(update(Promotion).where(Promotion.id == promotion_id, Promotion.usage_count > 0)
                          .values(usage_count=Promotion.usage_count - 1)
                          .execution_options(synchronize_session=False))


async def insert_redemption(session: AsyncSession, *, tenant_id: uuid.UUID, promotion_id: uuid.UUID,
                            customer_key: str, order_id: uuid.UUID) -> None:
    await session.execute(insert(PromotionRedemption).values(
        tenant_id=tenant_id, promotion_id=promotion_id, customer_key=customer_key, order_id=order_id))


async def delete_redemption(session: AsyncSession, promotion_id: uuid.UUID, order_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(PromotionRedemption)
        .where(PromotionRedemption.promotion_id == promotion_id, PromotionRedemption.order_id == order_id)
        .returning(PromotionRedemption.id))
    return result.first() is not None


async def has_redemptions(session: AsyncSession, promotion_id: uuid.UUID) -> bool:
    q = select(func.count()).select_from(PromotionRedemption).where(PromotionRedemption.promotion_id == promotion_id)
    return bool((await session.execute(q)).scalar_one())
