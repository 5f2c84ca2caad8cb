from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PaymentStatusName = Literal["pending", "requires_action", "authorized", "captured", "failed", "cancelled", "refunded",
                            "partially_refunded"]
MethodName = Literal["test", "manual", "stripe"]


class Refund(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    payment_id: uuid.UUID
    amount: int = Field(description="Minor units of the payment's currency.")
    currency: str
    reason: str | None
    status: Literal["pending", "succeeded", "failed"]
    gateway_reference: str | None
    failure_code: str | None
    created_at: datetime


class Payment(BaseModel):
    """A payment attempt. No gateway secret is ever part of it (the client secret is returned
    once, by ``start_payment``, in :class:`PaymentResult`)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    order_id: uuid.UUID
    amount: int = Field(description="Minor units (cents; whole yen for JPY).")
    currency: str
    method: MethodName
    status: PaymentStatusName
    amount_captured: int
    amount_refunded: int
    gateway: str
    gateway_reference: str | None
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime
    refunds: list[Refund] = Field(default_factory=list)


class PaymentResult(BaseModel):
    """What the storefront needs after starting (or confirming) a payment."""

    payment: Payment
    replayed: bool = Field(False, description="True when the idempotency key matched an earlier attempt.")
    client_secret: str | None = Field(None, repr=False,
                                      description="Stripe: confirm with Stripe.js. Never stored or logged.")
    next_action: dict[str, Any] | None = None
    redirect_url: str | None = Field(None, description="Stripe Checkout Session: send the customer there.")


class RefundResult(BaseModel):
    refund: Refund
    payment: Payment
    replayed: bool = False


class PaymentList(BaseModel):
    items: list[Payment]
    has_more: bool
    next_cursor: str | None = None


class CaptureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(None, gt=0, description="Minor units; omit to capture the whole authorization.")


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, description="Minor units of the payment's currency.")
    reason: str | None = Field(None, max_length=500)


class WebhookReceipt(BaseModel):
    received: bool = True
    outcome: Literal["processed", "duplicate", "ignored"]
