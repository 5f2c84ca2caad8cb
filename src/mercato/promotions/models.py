"""Promotions (coupon codes) and their redemptions. Tenant-owned, forced RLS."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, Base

EAGER = {"eager_defaults": True}


class Promotion(Base):
    """A coupon. ``code`` is stored upper-cased: codes are case-insensitive and unique per tenant.

    ``usage_count`` is the number of redemptions by placed orders; it only changes through one
    conditional UPDATE (``... WHERE usage_count < usage_limit``), so it can never pass the limit."""

    __tablename__ = "promotions"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(30))
    percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    product_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), server_default=text("'{}'::uuid[]"))
    category_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)),
                                                          server_default=text("'{}'::uuid[]"))
    buy_quantity: Mapped[int | None] = mapped_column(Integer)
    get_quantity: Mapped[int | None] = mapped_column(Integer)
    minimum_subtotal_cents: Mapped[int | None] = mapped_column(BigInteger)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    usage_limit: Mapped[int | None] = mapped_column(Integer)
    usage_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    combinable: Mapped[bool] = mapped_column(server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_promotions_tenant_id_id"),
        UniqueConstraint("tenant_id", "code", name="uq_promotions_tenant_code"),
        CheckConstraint("kind IN ('percentage_off', 'fixed_amount_off', 'free_shipping', 'buy_x_get_y')",
                        name="kind"),
        CheckConstraint("usage_count >= 0 AND (usage_limit IS NULL OR usage_count <= usage_limit)",
                        name="usage_within_limit"),
        CheckConstraint("percent IS NULL OR (percent >= 0 AND percent <= 100)", name="percent_range"),
        CheckConstraint("amount_cents IS NULL OR amount_cents >= 0", name="amount_nonnegative"),
    )


class PromotionRedemption(Base):
    """One use of a promotion by one placed order (and the customer who placed it)."""

    __tablename__ = "promotion_redemptions"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    promotion_id: Mapped[uuid.UUID]
    #: the customer's user id, or the lower-cased guest email
    customer_key: Mapped[str] = mapped_column(String(320))
    order_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "promotion_id"], ["promotions.tenant_id", "promotions.id"],
                             name="fk_promotion_redemptions_promotion", ondelete="RESTRICT"),
        UniqueConstraint("tenant_id", "promotion_id", "order_id", name="uq_promotion_redemptions_order"),
        Index("ix_promotion_redemptions_customer", "tenant_id", "promotion_id", "customer_key"),
    )


__all__ = ["Promotion", "PromotionRedemption"]
