"""Checkouts: one attempt to turn a cart into an order.

A checkout keeps what the customer chose on the way to payment (addresses, shipping method,
coupons, payment method, B2B fields), the stock reservation held for it while the customer
pays, and — once placed — the order it produced (unique: one checkout, at most one order).
Prices are never stored here: they are computed live from the cart by the one pricing function.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, Base


class Checkout(Base):
    __tablename__ = "checkouts"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    cart_id: Mapped[uuid.UUID]
    #: the signed-in customer, or None for a guest (then ``email`` and ``token_hash`` are set)
    customer_id: Mapped[uuid.UUID | None]
    email: Mapped[str | None] = mapped_column(String(320))
    #: SHA-256 of the guest cart token that opened the checkout (access stays with its holder)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'open'"))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    shipping_method_id: Mapped[uuid.UUID | None]
    coupon_codes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'::varchar[]"))
    payment_method: Mapped[str | None] = mapped_column(String(20))
    organization_name: Mapped[str | None] = mapped_column(String(200))
    purchase_order_number: Mapped[str | None] = mapped_column(String(100))
    reservation_id: Mapped[uuid.UUID | None]
    reservation_expires_at: Mapped[datetime | None]
    order_id: Mapped[uuid.UUID | None]
    order_number: Mapped[str | None] = mapped_column(String(64))
    #: what the order charges (minor units of ``currency``), fixed when the order is placed
    order_total: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    #: the Idempotency-Key of the ``complete`` request that finished the checkout
    completion_key: Mapped[str | None] = mapped_column(String(255))
    #: the completion answer (order and payment summary, no secrets), replayed to later ``complete`` calls
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_checkouts_tenant_id_id"),
        UniqueConstraint("tenant_id", "order_id", name="uq_checkouts_order"),
        ForeignKeyConstraint(["tenant_id", "cart_id"], ["carts.tenant_id", "carts.id"],
                             name="fk_checkouts_cart", ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "customer_id"], ["users.tenant_id", "users.id"],
                             name="fk_checkouts_customer", ondelete="CASCADE"),
        CheckConstraint("status IN ('open', 'payment_pending', 'completed', 'expired', 'abandoned')", name="status"),
        CheckConstraint("customer_id IS NOT NULL OR (email IS NOT NULL AND token_hash IS NOT NULL)", name="has_owner"),
        CheckConstraint("payment_method IS NULL OR payment_method IN ('test', 'manual', 'stripe')",
                        name="payment_method"),
        Index("ix_checkouts_cart", "tenant_id", "cart_id"),
        Index("ix_checkouts_open_expires_at", "expires_at",
              postgresql_where=text("status IN ('open', 'payment_pending')")),
    )


__all__ = ["Checkout"]
