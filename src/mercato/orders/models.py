"""Order tables: ``orders`` (snapshots of what was bought, where it goes, what it cost),
``order_lines``, the append-only ``order_history``, staff ``order_notes`` and ``order_settings``.

Tenant-owned with forced RLS; keys include ``tenant_id``. Other modules' ids (customer,
reservation, checkout, promotions, variants) are stored without foreign keys: those tables
belong to their modules. The CHECKs repeat the domain's statuses and money rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Identity,
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

from mercato.orders.domain import FulfillmentStatus, OrderStatus, PaymentStatus
from mercato.platform.db import NOW, UUID_DEFAULT, Base, in_list


class Order(Base):
    __tablename__ = "orders"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    payment_status: Mapped[str] = mapped_column(String(20), server_default=text("'unpaid'"))
    fulfillment_status: Mapped[str] = mapped_column(String(20), server_default=text("'unfulfilled'"))
    customer_id: Mapped[uuid.UUID | None]  # None: guest checkout
    email: Mapped[str] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount_total: Mapped[int] = mapped_column(BigInteger)
    shipping_total: Mapped[int] = mapped_column(BigInteger)
    shipping_discount: Mapped[int] = mapped_column(BigInteger)
    tax_total: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    #: Captured and refunded so far over all payment attempts (derived from the payments' facts).
    amount_paid: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    amount_refunded: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    prices_include_tax: Mapped[bool] = mapped_column(Boolean)
    shipping_address: Mapped[dict[str, Any] | None]
    billing_address: Mapped[dict[str, Any] | None]
    shipping_method: Mapped[dict[str, Any] | None]
    coupon_codes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default=text("'{}'::varchar[]"))
    promotion_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)),
                                                          server_default=text("'{}'::uuid[]"))
    reservation_id: Mapped[uuid.UUID | None]
    checkout_id: Mapped[uuid.UUID | None]
    payment_method: Mapped[str | None] = mapped_column(String(20))
    organization_name: Mapped[str | None] = mapped_column(String(200))
    purchase_order_number: Mapped[str | None] = mapped_column(String(100))
    locale: Mapped[str] = mapped_column(String(20), server_default=text("'en'"))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    placed_at: Mapped[datetime] = mapped_column(server_default=NOW)
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_orders_tenant_id_id"),
        UniqueConstraint("tenant_id", "number", name="uq_orders_tenant_number"),
        UniqueConstraint("tenant_id", "checkout_id", name="uq_orders_tenant_checkout"),
        CheckConstraint(in_list("status", OrderStatus), name="status"),
        CheckConstraint(in_list("payment_status", PaymentStatus), name="payment_status"),
        CheckConstraint(in_list("fulfillment_status", FulfillmentStatus), name="fulfillment_status"),
        CheckConstraint("subtotal >= 0 AND discount_total >= 0 AND shipping_total >= 0 AND shipping_discount >= 0 "
                        "AND tax_total >= 0 AND total >= 0", name="totals_not_negative"),
        CheckConstraint("amount_paid >= 0 AND amount_refunded >= 0 AND amount_refunded <= amount_paid",
                        name="refunded_within_paid"),
        Index("ix_orders_placed", "tenant_id", "placed_at", "id"),
        Index("ix_orders_customer", "tenant_id", "customer_id", "placed_at"),
        Index("ix_orders_status", "tenant_id", "status", "placed_at"),
        Index("ix_orders_email", "tenant_id", "email"),
    )


class OrderLine(Base):
    """What was bought, as it was when bought (names, SKU, prices, tax)."""

    __tablename__ = "order_lines"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    order_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(Integer)
    variant_id: Mapped[uuid.UUID]
    product_id: Mapped[uuid.UUID]
    sku: Mapped[str] = mapped_column(String(100))
    product_name: Mapped[str] = mapped_column(String(500))
    variant_title: Mapped[str | None] = mapped_column(String(500))
    options: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger)
    tax_rate: Mapped[Decimal | None] = mapped_column(Numeric(10, 6))
    total: Mapped[int] = mapped_column(BigInteger)
    quantity_fulfilled: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    quantity_returned: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"],
                             name="fk_order_lines_order", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "id", name="uq_order_lines_tenant_id_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("quantity_fulfilled >= 0 AND quantity_fulfilled <= quantity", name="fulfilled_within_quantity"),
        CheckConstraint("quantity_returned >= 0 AND quantity_returned <= quantity_fulfilled",
                        name="returned_within_fulfilled"),
        CheckConstraint("unit_price >= 0 AND subtotal >= 0 AND discount >= 0 AND tax >= 0 AND total >= 0",
                        name="amounts_not_negative"),
        Index("ix_order_lines_order", "tenant_id", "order_id", "position"),
    )


HISTORY_KINDS = ("status", "payment", "fulfillment", "note", "address", "system")


class OrderHistory(Base):
    """One entry per change of an order. Append-only: the runtime role may INSERT and SELECT."""

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    tenant_id: Mapped[uuid.UUID]
    order_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[uuid.UUID | None]
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    #: Shown to the customer on their order page (status changes, visible notes).
    customer_visible: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("clock_timestamp()"))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"],
                             name="fk_order_history_order", ondelete="CASCADE"),
        CheckConstraint(in_list("kind", HISTORY_KINDS), name="kind"),
        Index("ix_order_history_order", "tenant_id", "order_id", "id"),
    )


class OrderNote(Base):
    """A staff note: internal, or visible to the customer."""

    __tablename__ = "order_notes"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    order_id: Mapped[uuid.UUID]
    body: Mapped[str] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(String(20), server_default=text("'internal'"))
    author_type: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "order_id"], ["orders.tenant_id", "orders.id"],
                             name="fk_order_notes_order", ondelete="CASCADE"),
        CheckConstraint("visibility IN ('internal', 'customer')", name="visibility"),
        CheckConstraint("length(body) > 0", name="body_not_empty"),
        Index("ix_order_notes_order", "tenant_id", "order_id", "created_at"),
    )


class OrderSettings(Base):
    """Per shop; no row means the defaults."""

    __tablename__ = "order_settings"
    __mapper_args__ = {"eager_defaults": True}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    self_cancel_window_seconds: Mapped[int] = mapped_column(Integer, server_default=text("3600"))
    cancel_on_payment_failure: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        CheckConstraint("self_cancel_window_seconds >= 0", name="window_not_negative"),
    )


__all__ = ["Order", "OrderHistory", "OrderLine", "OrderNote", "OrderSettings"]
