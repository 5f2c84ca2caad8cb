"""Return tables: ``return_requests`` (one per RMA), their ``return_lines``, the ``return_refunds``
made for them, and ``return_settings`` per shop. Tenant-owned, forced RLS.

``order_id``, ``order_line_id``, variant, location and payment ids belong to other modules and
are stored without foreign keys. The CHECKs repeat the domain's statuses and money rules.
"""

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
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, UUID_DEFAULT, Base, in_list
from mercato.returns.domain import CONDITIONS, REASONS, REQUESTERS, ReturnStatus


class ReturnRequest(Base):
    __tablename__ = "return_requests"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    order_id: Mapped[uuid.UUID]
    order_number: Mapped[str] = mapped_column(String(32))
    #: Given on approval (``RMA-<order number>-<n>``).
    rma_number: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'requested'"))
    requested_by: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[uuid.UUID | None]
    email: Mapped[str] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3))
    customer_note: Mapped[str | None] = mapped_column(Text)
    decision_note: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    #: What the received (not exchanged) units are worth, and what was refunded of it / of shipping.
    items_value: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    items_refunded: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    shipping_refunded: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    #: Exchange: the credit of the exchanged units, the replacement order and the difference settled.
    exchange_credit: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    replacement_order_id: Mapped[uuid.UUID | None]
    replacement_order_number: Mapped[str | None] = mapped_column(String(32))
    exchange_charged: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    exchange_refunded: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    approved_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_return_requests_tenant_id_id"),
        UniqueConstraint("tenant_id", "rma_number", name="uq_return_requests_tenant_rma"),
        CheckConstraint(in_list("status", ReturnStatus), name="status"),
        CheckConstraint(in_list("requested_by", REQUESTERS), name="requested_by"),
        CheckConstraint("items_value >= 0 AND items_refunded >= 0 AND items_refunded <= items_value "
                        "AND shipping_refunded >= 0 AND exchange_credit >= 0 AND exchange_charged >= 0 "
                        "AND exchange_refunded >= 0", name="amounts"),
        Index("ix_return_requests_order", "tenant_id", "order_id"),
        Index("ix_return_requests_status", "tenant_id", "status", "created_at"),
        Index("ix_return_requests_customer", "tenant_id", "customer_id", "created_at"),
        Index("ix_return_requests_created", "tenant_id", "created_at", "id"),
    )


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    return_id: Mapped[uuid.UUID]
    order_line_id: Mapped[uuid.UUID]
    variant_id: Mapped[uuid.UUID]
    sku: Mapped[str] = mapped_column(String(100))
    product_name: Mapped[str] = mapped_column(String(500))
    variant_title: Mapped[str | None] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    #: Exchange: the variant the customer wants instead.
    exchange_variant_id: Mapped[uuid.UUID | None]
    quantity_received: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    condition: Mapped[str | None] = mapped_column(String(20))
    restock_location_id: Mapped[uuid.UUID | None]
    #: What the received units are worth (refund or exchange credit), set on receipt.
    value: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "return_id"], ["return_requests.tenant_id", "return_requests.id"],
                             name="fk_return_lines_return", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "return_id", "order_line_id", name="uq_return_lines_order_line"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("quantity_received >= 0 AND quantity_received <= quantity", name="received_within_quantity"),
        CheckConstraint(in_list("reason", REASONS), name="reason"),
        CheckConstraint(f"condition IS NULL OR {in_list('condition', CONDITIONS)}", name="condition"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        Index("ix_return_lines_return", "tenant_id", "return_id"),
        Index("ix_return_lines_order_line", "tenant_id", "order_line_id"),
    )


class ReturnRefund(Base):
    """One refund request on a return (spread over the order's payments), idempotent by key."""

    __tablename__ = "return_refunds"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    return_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(30), server_default=text("'refund'"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    items_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    shipping_amount: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    reason: Mapped[str | None] = mapped_column(String(500))
    #: ``[{"payment_id", "refund_id", "amount", "status"}]`` as the payments module answered.
    payments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "return_id"], ["return_requests.tenant_id", "return_requests.id"],
                             name="fk_return_refunds_return", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "return_id", "idempotency_key", name="uq_return_refunds_key"),
        CheckConstraint("kind IN ('refund', 'exchange_difference')", name="kind"),
        CheckConstraint("amount > 0 AND items_amount >= 0 AND shipping_amount >= 0", name="amounts"),
        Index("ix_return_refunds_return", "tenant_id", "return_id", "created_at"),
    )


class ReturnSettings(Base):
    """Per shop; no row means the defaults."""

    __tablename__ = "return_settings"
    __mapper_args__ = {"eager_defaults": True}

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    window_days: Mapped[int] = mapped_column(Integer, server_default=text("30"))
    instructions: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        CheckConstraint("window_days >= 0 AND window_days <= 3650", name="window_days_range"),
    )


__all__ = ["ReturnLine", "ReturnRefund", "ReturnRequest", "ReturnSettings"]
