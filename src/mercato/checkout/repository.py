from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.checkout.models import Checkout


async def get(session: AsyncSession, checkout_id: uuid.UUID, *, for_update: bool = False) -> Checkout | None:
    q = select(Checkout).where(Checkout.id == checkout_id)
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def insert(session: AsyncSession, values: dict[str, Any]) -> Checkout:
    checkout = Checkout(**values)
    session.add(checkout)
    await session.flush()
    return checkout


async def active_for_cart(session: AsyncSession, cart_id: uuid.UUID, *, for_update: bool = False) -> list[Checkout]:
    q = (select(Checkout).where(Checkout.cart_id == cart_id, Checkout.status.in_(("open", "payment_pending")))
         .order_by(Checkout.created_at))
    if for_update:
        q = q.with_for_update()
    return list((await session.execute(q)).scalars())
