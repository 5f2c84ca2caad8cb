"""Carts and their lines. Lines store the variant and quantity only: prices are live.

Guest carts are found by the SHA-256 of their opaque token (never stored in clear);
customer carts by the customer's user id (one active cart per customer).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, Integer, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, Base

EAGER = {"eager_defaults": True}


class Cart(Base):
    __tablename__ = "carts"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    token_hash: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(20), server_default=text("'active'"))
    currency: Mapped[str | None] = mapped_column(String(3))
    coupon_codes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'::varchar[]"))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    shipping_method_id: Mapped[uuid.UUID | None]
    #: guest carts expire (sliding, renewed by every write); customer carts do not
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_carts_tenant_id_id"),
        UniqueConstraint("tenant_id", "token_hash", name="uq_carts_tenant_token"),
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["users.tenant_id", "users.id"],
                             name="fk_carts_customer", ondelete="CASCADE"),
        CheckConstraint("status IN ('active', 'merged', 'completed')", name="status"),
        CheckConstraint("token_hash IS NOT NULL OR customer_id IS NOT NULL", name="has_owner"),
        Index("uq_carts_active_customer", "tenant_id", "customer_id", unique=True,
              postgresql_where=text("status = 'active' AND customer_id IS NOT NULL")),
        Index("ix_carts_expires_at", "expires_at", postgresql_where=text("expires_at IS NOT NULL")),
    )


class CartLine(Base):
    __tablename__ = "cart_lines"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    cart_id: Mapped[uuid.UUID]
    variant_id: Mapped[uuid.UUID]
    quantity: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "cart_id"], ["carts.tenant_id", "carts.id"],
                             name="fk_cart_lines_cart", ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "variant_id"], ["variants.tenant_id", "variants.id"],
                             name="fk_cart_lines_variant", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "cart_id", "variant_id", name="uq_cart_lines_variant"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )


__all__ = ["Cart", "CartLine"]
