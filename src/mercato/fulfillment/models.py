"""Fulfillment tables: ``shipments`` (a parcel of some units of an order's lines, leaving one stock
location with one carrier), ``shipment_items``, the append-only ``shipment_events`` (status
history and tracking scans) and ``shipment_labels`` (label documents, kept apart so that lists
never load PDFs).

Tenant-owned with forced RLS; keys include ``tenant_id``. The order, its lines and the variants
belong to other modules and are stored as ids; the stock location is referenced at the database
level only (composite FK), like inventory levels reference variants.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mercato.fulfillment.domain import ShipmentStatus
from mercato.platform.db import NOW, UUID_DEFAULT, Base

STATUSES = ", ".join(repr(s.value) for s in ShipmentStatus)
EVENT_KINDS = ("status", "tracking", "label_attempt")


class Shipment(Base):
    __tablename__ = "shipments"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    order_id: Mapped[uuid.UUID]
    order_number: Mapped[str] = mapped_column(String(32))
    #: The order's n-th shipment (1, 2, …): ``ORD-…-1`` on labels and packing slips.
    sequence: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[uuid.UUID | None]
    location_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    carrier: Mapped[str] = mapped_column(String(50))
    service: Mapped[str] = mapped_column(String(50))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    tracking_url: Mapped[str | None] = mapped_column(String(500))
    ship_to: Mapped[dict[str, Any] | None]
    ship_from: Mapped[dict[str, Any] | None]
    label_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    label_next_attempt_at: Mapped[datetime | None]
    label_last_error: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    picked_at: Mapped[datetime | None]
    packed_at: Mapped[datetime | None]
    label_created_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_shipments_tenant_id_id"),
        UniqueConstraint("tenant_id", "order_id", "sequence", name="uq_shipments_order_sequence"),
        ForeignKeyConstraint(["tenant_id", "location_id"], ["stock_locations.tenant_id", "stock_locations.id"],
                             name="fk_shipments_location", ondelete="RESTRICT"),
        CheckConstraint(f"status IN ({STATUSES})", name="status"),
        CheckConstraint("label_attempts >= 0", name="label_attempts_nonnegative"),
        CheckConstraint("sequence > 0", name="sequence_positive"),
        Index("ix_shipments_order", "tenant_id", "order_id", "sequence"),
        Index("ix_shipments_created", "tenant_id", "created_at", "id"),
        Index("ix_shipments_tracking", "tenant_id", "carrier", "tracking_number"),
        # The retry job scans due label retries across tenants.
        Index("ix_shipments_label_due", "label_next_attempt_at",
              postgresql_where=text("status = 'packed' AND label_next_attempt_at IS NOT NULL")),
    )


class ShipmentItem(Base):
    """Units of one order line in one shipment (snapshot of what the line was)."""

    __tablename__ = "shipment_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    shipment_id: Mapped[uuid.UUID]
    order_line_id: Mapped[uuid.UUID]
    variant_id: Mapped[uuid.UUID]
    sku: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"],
                             name="fk_shipment_items_shipment", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "shipment_id", "order_line_id", name="uq_shipment_items_line"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )


class ShipmentEvent(Base):
    """One entry of a shipment's history: a status change, a tracking scan, a label attempt.
    Append-only: the runtime role may INSERT and SELECT. ``carrier_event_id`` makes a carrier's
    repeated push of the same scan a no-op."""

    __tablename__ = "shipment_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    shipment_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    carrier_event_id: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"],
                             name="fk_shipment_events_shipment", ondelete="CASCADE"),
        CheckConstraint("kind IN ('status', 'tracking', 'label_attempt')", name="kind"),
        Index("ix_shipment_events_shipment", "tenant_id", "shipment_id", "id"),
        Index("uq_shipment_events_carrier_event", "tenant_id", "shipment_id", "carrier_event_id", unique=True,
              postgresql_where=text("carrier_event_id IS NOT NULL")),
    )


class ShipmentLabel(Base):
    """The carrier's label document (PDF) of a shipment."""

    __tablename__ = "shipment_labels"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    shipment_id: Mapped[uuid.UUID]
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"],
                             name="fk_shipment_labels_shipment", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "shipment_id", name="uq_shipment_labels_shipment"),
    )


__all__ = ["Shipment", "ShipmentEvent", "ShipmentItem", "ShipmentLabel"]
