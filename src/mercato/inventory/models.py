"""Inventory tables: stock locations, levels per variant and location, the stock ledger,
reservations and their lines, per-tenant inventory settings.

Every table is tenant-owned (forced RLS); keys between tenant tables include ``tenant_id``.
Levels reference catalog variants at the database level only (composite FK); the code
never touches catalog tables (it asks ``mercato.catalog.get_variant_refs``).

The CHECK on ``inventory_levels`` (``0 <= reserved <= on_hand``) is the last wall against
overselling: whatever a future code path does, PostgreSQL refuses a row that promises more
units than are on hand.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, UUID_DEFAULT, Base


class StockLocation(Base):
    """A warehouse or store that holds stock. Lower ``priority`` is preferred when reserving."""

    __tablename__ = "stock_locations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(50))
    address: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    priority: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_stock_locations_tenant_id_id"),
        UniqueConstraint("tenant_id", "code", name="uq_stock_locations_tenant_code"),
        Index("ix_stock_locations_priority", "tenant_id", "priority", "id"),
    )


class InventoryLevel(Base):
    """Stock of one variant at one location. ``available = on_hand - reserved``."""

    __tablename__ = "inventory_levels"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    variant_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    on_hand: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    reserved: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: NULL: the tenant's default (``inventory_settings.default_low_stock_threshold``).
    reorder_threshold: Mapped[int | None] = mapped_column(Integer)
    last_restocked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "variant_id", "location_id", name="uq_inventory_levels_variant_location"),
        ForeignKeyConstraint(["tenant_id", "variant_id"], ["variants.tenant_id", "variants.id"],
                             name="fk_inventory_levels_variant", ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "location_id"], ["stock_locations.tenant_id", "stock_locations.id"],
                             name="fk_inventory_levels_location", ondelete="RESTRICT"),
        CheckConstraint("on_hand >= 0", name="on_hand_nonnegative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("reorder_threshold IS NULL OR reorder_threshold >= 0", name="threshold_nonnegative"),
        Index("ix_inventory_levels_location", "tenant_id", "location_id"),
    )


class LedgerEntry(Base):
    """One stock movement. Append-only: the runtime role may INSERT and SELECT, nothing else.

    For every level, the sum of ``delta_on_hand`` (``delta_reserved``) over its entries equals
    its ``on_hand`` (``reserved``).
    """

    __tablename__ = "inventory_ledger"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    variant_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(30))
    delta_on_hand: Mapped[int] = mapped_column(Integer)
    delta_reserved: Mapped[int] = mapped_column(Integer)
    on_hand_after: Mapped[int] = mapped_column(Integer)
    reserved_after: Mapped[int] = mapped_column(Integer)
    reservation_id: Mapped[uuid.UUID | None]
    reference: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "location_id"], ["stock_locations.tenant_id", "stock_locations.id"],
                             name="fk_inventory_ledger_location", ondelete="RESTRICT"),
        Index("ix_inventory_ledger_variant", "tenant_id", "variant_id", "id"),
        Index("ix_inventory_ledger_location", "tenant_id", "location_id", "id"),
        Index("ix_inventory_ledger_reservation", "tenant_id", "reservation_id",
              postgresql_where=text("reservation_id IS NOT NULL")),
    )


class Reservation(Base):
    """Stock held for a checkout: active → committed | released | expired."""

    __tablename__ = "inventory_reservations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(20), server_default=text("'active'"))
    reference: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    committed_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_inventory_reservations_tenant_id_id"),
        CheckConstraint("status IN ('active', 'committed', 'released', 'expired')", name="status"),
        # The expiry job scans active reservations past their expiry, across tenants.
        Index("ix_inventory_reservations_expiring", "expires_at", postgresql_where=text("status = 'active'")),
        Index("ix_inventory_reservations_reference", "tenant_id", "reference"),
    )


class ReservationLine(Base):
    """Units of one variant held at one location, or backordered (``location_id`` NULL)."""

    __tablename__ = "inventory_reservation_lines"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    reservation_id: Mapped[uuid.UUID]
    variant_id: Mapped[uuid.UUID]
    location_id: Mapped[uuid.UUID | None]
    quantity: Mapped[int] = mapped_column(Integer)
    #: Units of this line already sold by a partial commit (a shipment): ``quantity - quantity_committed``
    #: are still held.
    quantity_committed: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: Backordered lines only: the restock date shown to the customer.
    backorder_eta: Mapped[date | None]

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "reservation_id"],
                             ["inventory_reservations.tenant_id", "inventory_reservations.id"],
                             name="fk_inventory_reservation_lines_reservation", ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "location_id"], ["stock_locations.tenant_id", "stock_locations.id"],
                             name="fk_inventory_reservation_lines_location", ondelete="RESTRICT"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("quantity_committed >= 0 AND quantity_committed <= quantity", name="committed_within_quantity"),
        Index("ix_inventory_reservation_lines_reservation", "tenant_id", "reservation_id"),
    )


class InventorySettings(Base):
    """Per-tenant inventory knobs (a missing row means the defaults)."""

    __tablename__ = "inventory_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    default_low_stock_threshold: Mapped[int] = mapped_column(Integer, server_default=text("5"))
    reservation_ttl_seconds: Mapped[int] = mapped_column(Integer, server_default=text("900"))
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        CheckConstraint("default_low_stock_threshold >= 0", name="threshold_nonnegative"),
        CheckConstraint("reservation_ttl_seconds BETWEEN 10 AND 604800", name="ttl_range"),
    )


__all__ = ["InventoryLevel", "InventorySettings", "LedgerEntry", "Reservation", "ReservationLine", "StockLocation"]
