"""Tax rates per region and tax class, and the tenant's tax settings. Tenant-owned, forced RLS."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Numeric, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, Base

EAGER = {"eager_defaults": True}


class TaxRate(Base):
    """``rate`` is a percent with 4 decimals (``8.8750``), never a float. An empty ``region`` or
    ``postal_prefix`` means "any": the most specific matching row wins (postal prefix > region > country)."""

    __tablename__ = "tax_rates"
    __mapper_args__ = EAGER

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))
    tenant_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(100), server_default=text("''"))
    postal_prefix: Mapped[str] = mapped_column(String(20), server_default=text("''"))
    tax_class: Mapped[str] = mapped_column(String(50), server_default=text("'standard'"))
    rate: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "country", "region", "postal_prefix", "tax_class", name="uq_tax_rates_scope"),
        CheckConstraint("rate >= 0 AND rate <= 100", name="rate_range"),
        Index("ix_tax_rates_country", "tenant_id", "country", "tax_class"),
    )


class TaxSettings(Base):
    """Per-tenant tax behaviour (one row per tenant; absent = defaults)."""

    __tablename__ = "tax_settings"
    __mapper_args__ = EAGER

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    prices_include_tax: Mapped[bool] = mapped_column(server_default=text("false"))
    #: tax shipping at the rate of this tax class (NULL: shipping is not taxed)
    shipping_tax_class: Mapped[str | None] = mapped_column(String(50))
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())


__all__ = ["TaxRate", "TaxSettings"]
