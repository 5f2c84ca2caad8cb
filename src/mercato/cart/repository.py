from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.cart.models import Cart, CartLine

_GET_CART = select(Cart).where(Cart.id == bindparam("cart_id"))
_GET_CART_FOR_UPDATE = _GET_CART.with_for_update()
_LINES = select(CartLine).where(CartLine.cart_id == bindparam("cart_id")).order_by(CartLine.created_at, CartLine.id)


async def get_cart(session: AsyncSession, cart_id: uuid.UUID, *, for_update: bool = False) -> Cart | None:
    # statements built once (every cart read and checkout runs them); values are bound
    q = _GET_CART_FOR_UPDATE if for_update else _GET_CART
    return (await session.execute(q, {"cart_id": cart_id})).scalar_one_or_none()


async def find_by_token(session: AsyncSession, token_hash: str, *, for_update: bool = False) -> Cart | None:
    q = select(Cart).where(Cart.token_hash == token_hash, Cart.status == "active")
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def find_customer_cart(session: AsyncSession, customer_id: uuid.UUID, *, for_update: bool = False) -> Cart | None:
    q = select(Cart).where(Cart.customer_id == customer_id, Cart.status == "active")
    if for_update:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def insert_customer_cart(session: AsyncSession, tenant_id: uuid.UUID, customer_id: uuid.UUID) -> Cart | None:
    """Insert the customer's active cart, or None if a concurrent request just created it."""
    stmt = (insert(Cart).values(tenant_id=tenant_id, customer_id=customer_id)
            .on_conflict_do_nothing(index_elements=["tenant_id", "customer_id"],
                                    # literal predicate: a bound parameter stops matching the partial index
                                    # once the statement runs with a generic plan
                                    index_where=text("status = 'active' AND customer_id IS NOT NULL"))
            .returning(Cart))
    return (await session.execute(stmt)).scalar_one_or_none()


async def insert_guest_cart(session: AsyncSession, tenant_id: uuid.UUID, token_hash: str, expires_at: datetime) -> Cart:
    cart = Cart(tenant_id=tenant_id, token_hash=token_hash, expires_at=expires_at)
    session.add(cart)
    await session.flush()
    return cart


async def lines(session: AsyncSession, cart_id: uuid.UUID) -> list[CartLine]:
    return list((await session.execute(_LINES, {"cart_id": cart_id})).scalars())


async def get_line(session: AsyncSession, cart_id: uuid.UUID, line_id: uuid.UUID) -> CartLine | None:
    q = select(CartLine).where(CartLine.cart_id == cart_id, CartLine.id == line_id)
    return (await session.execute(q)).scalar_one_or_none()


async def set_line_quantity(session: AsyncSession, tenant_id: uuid.UUID, cart_id: uuid.UUID, variant_id: uuid.UUID,
                            quantity: int) -> None:
    stmt = (insert(CartLine).values(tenant_id=tenant_id, cart_id=cart_id, variant_id=variant_id, quantity=quantity)
            .on_conflict_do_update(constraint="uq_cart_lines_variant",
                                   set_={"quantity": quantity, "updated_at": func.now()}))
    await session.execute(stmt)


async def delete_line(session: AsyncSession, cart_id: uuid.UUID, line_id: uuid.UUID) -> bool:
    result = await session.execute(delete(CartLine).where(CartLine.cart_id == cart_id, CartLine.id == line_id)
                                   .returning(CartLine.id))
    return result.first() is not None


async def clear_lines(session: AsyncSession, cart_id: uuid.UUID) -> None:
    await session.execute(delete(CartLine).where(CartLine.cart_id == cart_id))


async def count_lines(session: AsyncSession, cart_id: uuid.UUID) -> int:
    q = select(func.count()).select_from(CartLine).where(CartLine.cart_id == cart_id)
    return int((await session.execute(q)).scalar_one())


async def touch(session: AsyncSession, cart: Cart, *, now: datetime, expires_at: datetime | None) -> None:
    """Record a change: bump ``updated_at`` and slide a guest cart's expiry."""
    cart.updated_at = now
    if cart.customer_id is None:
        cart.expires_at = expires_at
    await session.flush()
