from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.checkout.models import Checkout

_GET = select(Checkout).where(Checkout.id == bindparam("checkout_id"))
_GET_FOR_UPDATE = _GET.with_for_update()


async def get(session: AsyncSession, checkout_id: uuid.UUID, *, for_update: bool = False) -> Checkout | None:
    # built once (every checkout step runs it); the id is bound
    q = _GET_FOR_UPDATE if for_update else _GET
    return (await session.execute(q, {"checkout_id": checkout_id})).scalar_one_or_none()


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


async def idle(session: AsyncSession, expires_before: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """``(tenant_id, checkout_id)`` of active checkouts whose expiry (last activity + TTL) is at or before
    ``expires_before``, oldest first. Run as the worker role (its SELECT-only policy sees every tenant);
    uses the partial index ``ix_checkouts_open_expires_at``."""
    q = (select(Checkout.tenant_id, Checkout.id)
         .where(Checkout.status.in_(("open", "payment_pending")), Checkout.expires_at <= expires_before)
         .order_by(Checkout.expires_at).limit(limit))
    return [(r.tenant_id, r.id) for r in (await session.execute(q))]


async def lock_if_free(session: AsyncSession, checkout_id: uuid.UUID) -> Checkout | None:
    """The checkout, row-locked — or None when a request holds it right now (``SKIP LOCKED``)."""
    q = select(Checkout).where(Checkout.id == checkout_id).with_for_update(skip_locked=True)
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one_or_none()
