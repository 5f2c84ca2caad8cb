"""Shipping zones and the methods (with their rates) offered in each. Tenant-owned, forced RLS."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, Base

EAGER = {"eager_defaults": True}


class ShippingZone(Base):
    """Countries (ISO alpha-2) and, optionally, regions within them (empty: the whole countries)."""

    __tablename__ = "shipping_zones"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    countries: Mapped[list[str]] = mapped_column(ARRAY(String(2)))
    regions: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'::varchar[]"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_shipping_zones_tenant_id_id"),
        Index("ix_shipping_zones_countries", "countries", postgresql_using="gin"),
    )


class ShippingMethod(Base):
    """``rate_type``: flat (``flat_rate_cents``), weight / subtotal (``brackets``:
    ``[{"up_to": n | null, "rate_cents": n}]`` ascending, ``up_to`` inclusive, null = no upper
    bound), free_above (``flat_rate_cents`` below ``free_above_cents``, free from it).
    ``free_above_cents`` also makes any other rate type free from that subtotal."""

    __tablename__ = "shipping_methods"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    zone_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    rate_type: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    flat_rate_cents: Mapped[int | None] = mapped_column(BigInteger)
    brackets: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    free_above_cents: Mapped[int | None] = mapped_column(BigInteger)
    min_delivery_days: Mapped[int | None] = mapped_column(Integer)
    max_delivery_days: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    position: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_shipping_methods_tenant_id_id"),
        ForeignKeyConstraint(["tenant_id", "zone_id"], ["shipping_zones.tenant_id", "shipping_zones.id"],
                             name="fk_shipping_methods_zone", ondelete="CASCADE"),
        CheckConstraint("rate_type IN ('flat', 'weight', 'subtotal', 'free_above')", name="rate_type"),
        CheckConstraint("flat_rate_cents IS NULL OR flat_rate_cents >= 0", name="flat_nonnegative"),
        CheckConstraint("free_above_cents IS NULL OR free_above_cents >= 0", name="free_above_nonnegative"),
        Index("ix_shipping_methods_zone", "tenant_id", "zone_id", "position"),
    )


__all__ = ["ShippingMethod", "ShippingZone"]
