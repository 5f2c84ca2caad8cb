from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReasonName = Literal["damaged", "defective", "wrong_item", "not_as_described", "size_or_fit", "no_longer_needed",
                     "arrived_late", "other"]
ConditionName = Literal["resellable", "damaged"]
ReturnStatusName = Literal["requested", "approved", "rejected", "cancelled", "received", "completed"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ReturnLineIn(_Input):
    order_line_id: uuid.UUID
    quantity: int = Field(ge=1, le=100_000)
    reason: ReasonName
    note: str | None = Field(default=None, max_length=2000)
    exchange_variant_id: uuid.UUID | None = Field(
        default=None, description="Exchange: the variant wanted instead (a replacement order is made for it).")


class ReturnCreate(_Input):
    """A signed-in customer (their own order) or staff (any order) asks for a return."""

    order_id: uuid.UUID
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class StaffReturnCreate(ReturnCreate):
    ignore_window: bool = Field(default=False, description="Goodwill: accept the return after the window closed.")


class GuestReturnCreate(_Input):
    """A guest proves the order with its number and the email it was placed with."""

    order_number: str = Field(min_length=1, max_length=32)
    email: str = Field(min_length=3, max_length=320)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class ApproveRequest(_Input):
    instructions: str | None = Field(default=None, max_length=5000,
                                     description="Where and how to send the parcel; default: the shop's settings.")
    note: str | None = Field(default=None, max_length=2000)


class RejectRequest(_Input):
    note: str = Field(min_length=1, max_length=2000, description="Why: shown to the customer.")


class CancelReturnRequest(_Input):
    reason: str | None = Field(default=None, max_length=500)


class CloseRequest(_Input):
    note: str | None = Field(default=None, max_length=2000, description="Why the rest is not refunded.")


class ReceiveLineIn(_Input):
    return_line_id: uuid.UUID
    quantity: int | None = Field(default=None, ge=0, le=100_000, description="Units that arrived (default: all).")
    condition: ConditionName
    location_id: uuid.UUID | None = Field(default=None,
                                          description="Resellable units are restocked here (required for them).")


class ReceiveRequest(_Input):
    lines: list[ReceiveLineIn] = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class RefundRequest(_Input):
    amount: int | None = Field(default=None, gt=0, description="Minor units; omit to refund all that is left.")
    include_shipping: bool = Field(default=False, description="Also give back the order's shipping (once per order).")
    reason: str | None = Field(default=None, max_length=500)


class ExchangeRequest(_Input):
    payment_method: Literal["test", "manual", "stripe"] | None = Field(
        default=None, description="How the customer pays a positive difference (not needed otherwise).")
    payment_data: dict[str, Any] | None = None


class ReturnLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    order_line_id: uuid.UUID
    variant_id: uuid.UUID
    sku: str
    product_name: str
    variant_title: str | None
    quantity: int
    reason: ReasonName
    note: str | None
    exchange_variant_id: uuid.UUID | None
    quantity_received: int
    condition: ConditionName | None
    restock_location_id: uuid.UUID | None
    value: int = Field(description="What the received units are worth (minor units): refund or exchange credit.")


class ReturnRefund(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: Literal["refund", "exchange_difference"]
    amount: int
    items_amount: int
    shipping_amount: int
    reason: str | None
    payments: list[dict[str, Any]] = Field(description="[{payment_id, refund_id, amount, status}]")
    created_at: datetime


class Return(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    order_number: str
    rma_number: str | None
    status: ReturnStatusName
    requested_by: Literal["customer", "guest", "staff"]
    customer_id: uuid.UUID | None
    email: str
    currency: str
    customer_note: str | None
    decision_note: str | None
    instructions: str | None
    delivered_at: datetime | None
    items_value: int
    items_refunded: int
    shipping_refunded: int
    refundable: int = Field(description="What the received items are worth and was not refunded yet.")
    exchange_credit: int
    replacement_order_id: uuid.UUID | None
    replacement_order_number: str | None
    exchange_charged: int
    exchange_refunded: int
    allowed_transitions: list[str]
    approved_at: datetime | None
    rejected_at: datetime | None
    received_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    lines: list[ReturnLine]
    refunds: list[ReturnRefund]


class ReturnList(BaseModel):
    items: list[Return]
    has_more: bool
    next_cursor: str | None = None


class RefundResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    refund: ReturnRefund
    replayed: bool = Field(False, description="True when the idempotency key matched an earlier refund.")
    return_: Return = Field(alias="return")


class ReturnSettings(BaseModel):
    window_days: int = 30
    instructions: str | None = None


class ReturnSettingsUpdate(_Input):
    window_days: int | None = Field(default=None, ge=0, le=3650, description="Days after delivery.")
    instructions: str | None = Field(default=None, max_length=5000,
                                     description="Default return instructions ({rma} is replaced by the RMA number).")
