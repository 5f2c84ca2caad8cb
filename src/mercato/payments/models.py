"""Payment tables: one ``payments`` row per attempt, its ``refunds``, and ``gateway_events``
(webhook deliveries already processed, for dedup).

All tenant-owned (forced RLS). ``order_id`` is the orders module's id, stored without a
foreign key (the orders table belongs to that module). The CHECKs repeat the domain's money
rules so no code path can record a refund larger than what was captured.
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
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mercato.platform.db import NOW, UUID_DEFAULT, Base, in_list

PAYMENT_STATUSES = ("pending", "requires_action", "authorized", "captured", "failed", "cancelled", "refunded",
                    "partially_refunded")
REFUND_STATUSES = ("pending", "succeeded", "failed")
METHODS = ("test", "manual", "stripe")


class Payment(Base):
    """One attempt to collect money for an order. Amounts are minor units of ``currency``."""

    __tablename__ = "payments"
    __mapper_args__ = {"eager_defaults": True}  # updated_at comes back with every UPDATE (RETURNING)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    order_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(30), server_default=text("'pending'"))
    amount_captured: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    amount_refunded: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    gateway: Mapped[str] = mapped_column(String(20))
    #: The gateway's id for this attempt (Stripe PaymentIntent ``pi_…``, Checkout Session ``cs_…``).
    gateway_reference: Mapped[str | None] = mapped_column(String(255))
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    #: Last gateway response, secrets stripped (``domain.strip_secrets``). Never the client secret.
    gateway_response: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_payments_tenant_id_id"),
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_payments_tenant_idempotency_key"),
        CheckConstraint(in_list("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint(in_list("method", METHODS), name="method"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount_captured >= 0 AND amount_captured <= amount", name="captured_within_amount"),
        CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount_captured", name="refunded_within_captured"),
        Index("ix_payments_order", "tenant_id", "order_id", "created_at"),
        Index("ix_payments_gateway_reference", "tenant_id", "gateway", "gateway_reference"),
    )


class Refund(Base):
    """Money given back for a payment, possibly partial."""

    __tablename__ = "refunds"
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, server_default=UUID_DEFAULT)
    tenant_id: Mapped[uuid.UUID]
    payment_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    gateway_reference: Mapped[str | None] = mapped_column(String(255))
    failure_code: Mapped[str | None] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW, onupdate=func.now())

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "payment_id"], ["payments.tenant_id", "payments.id"],
                             name="fk_refunds_payment", ondelete="RESTRICT"),
        UniqueConstraint("tenant_id", "payment_id", "idempotency_key", name="uq_refunds_payment_idempotency_key"),
        CheckConstraint(in_list("status", REFUND_STATUSES), name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_refunds_payment", "tenant_id", "payment_id", "created_at"),
        Index("ix_refunds_gateway_reference", "tenant_id", "gateway_reference"),
    )


class GatewayEvent(Base):
    """A gateway webhook event applied once. Inserted with ON CONFLICT DO NOTHING in the
    transaction that applies it: a duplicate (even concurrent) delivery finds the row and skips."""

    __tablename__ = "gateway_events"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(30), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    received_at: Mapped[datetime] = mapped_column(server_default=NOW)
    processed_at: Mapped[datetime | None]
