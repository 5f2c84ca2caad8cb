"""Request and response models of the orders API (``extra="forbid"`` on input)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

import mercato.pricing as pricing

OrderStatusName = Literal["pending", "paid", "processing", "partially_shipped", "shipped", "delivered", "completed",
                          "cancelled"]
PaymentStatusName = Literal["unpaid", "authorized", "paid", "partially_refunded", "refunded", "failed"]
FulfillmentStatusName = Literal["unfulfilled", "partially_fulfilled", "fulfilled", "returned"]
StaffTarget = Literal["processing", "shipped", "delivered", "completed", "cancelled"]
OrderSort = Literal["placed_at", "-placed_at", "total", "-total"]


class OrderLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    position: int
    variant_id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    product_name: str
    variant_title: str | None
    options: dict[str, Any]
    unit_price: int = Field(description="Minor units, as charged.")
    quantity: int
    subtotal: int
    discount: int
    tax: int
    tax_rate: Decimal | None
    total: int
    quantity_fulfilled: int
    quantity_returned: int

    @field_serializer("tax_rate")
    def _rate(self, v: Decimal | None) -> str | None:
        return None if v is None else format(v.normalize(), "f")


class HistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Literal["status", "payment", "fulfillment", "note", "address", "system"]
    from_status: str | None
    to_status: str | None
    actor_type: str
    actor_id: uuid.UUID | None
    message: str | None
    data: dict[str, Any]
    created_at: datetime


class CustomerHistoryEntry(BaseModel):
    """What a customer sees of the history: no actor, no internal data."""

    model_config = ConfigDict(from_attributes=True)

    kind: str
    from_status: str | None
    to_status: str | None
    message: str | None
    created_at: datetime


class Note(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    body: str
    visibility: Literal["internal", "customer"]
    author_type: str
    author_id: uuid.UUID | None
    created_at: datetime


class PaymentSummary(BaseModel):
    """A payment attempt as the customer may see it (no gateway data)."""

    id: uuid.UUID
    method: str
    status: str
    amount: int
    amount_captured: int
    amount_refunded: int
    currency: str
    created_at: datetime


class OrderSummary(BaseModel):
    """One row of a list."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    status: OrderStatusName
    payment_status: PaymentStatusName
    fulfillment_status: FulfillmentStatusName
    customer_id: uuid.UUID | None
    email: str
    currency: str
    total: int = Field(description="Minor units of ``currency``.")
    item_count: int = 0
    payment_method: str | None
    organization_name: str | None
    purchase_order_number: str | None
    placed_at: datetime


class _OrderBody(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: str
    status: OrderStatusName
    payment_status: PaymentStatusName
    fulfillment_status: FulfillmentStatusName
    customer_id: uuid.UUID | None
    email: str
    currency: str
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    total: int
    amount_paid: int
    amount_refunded: int
    prices_include_tax: bool
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    shipping_method: dict[str, Any] | None
    coupon_codes: list[str]
    payment_method: str | None
    organization_name: str | None = Field(description="B2B: the buying organization.")
    purchase_order_number: str | None = Field(description="B2B: the buyer's PO number.")
    locale: str
    placed_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    lines: list[OrderLine] = Field(default_factory=list)
    allowed_transitions: list[str] = Field(default_factory=list,
                                           description="Statuses staff may move the order to now.")


class Order(_OrderBody):
    """The staff view: everything, with history, notes and payments."""

    promotion_ids: list[uuid.UUID]
    reservation_id: uuid.UUID | None
    checkout_id: uuid.UUID | None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    history: list[HistoryEntry] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)
    payments: list[Any] = Field(default_factory=list, description="mercato.payments Payment objects.")


class CustomerOrder(_OrderBody):
    """The customer's view of their order."""

    history: list[CustomerHistoryEntry] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list, description="Notes the shop made visible to you.")
    payments: list[PaymentSummary] = Field(default_factory=list)
    can_cancel: bool = False


class OrderList(BaseModel):
    items: list[OrderSummary]
    has_more: bool
    next_cursor: str | None = None


# --------------------------------------------------------------------------- inputs


class TransitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: StaffTarget
    reason: str | None = Field(None, max_length=500)


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class CustomerCancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500)


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=5000)
    visibility: Literal["internal", "customer"] = "internal"


class ShippingAddressUpdate(pricing.AddressIn):
    """The new shipping address (validated like checkout's: country, postal code format, required fields)."""

    reason: str | None = Field(default=None, max_length=500)


class OrderSettings(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    self_cancel_window_seconds: int = Field(3600, description="How long customers may cancel their own order.")
    cancel_on_payment_failure: bool = Field(False, description="Cancel a pending order when its payment fails "
                                                               "(otherwise it stays pending for a retry).")


class OrderSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    self_cancel_window_seconds: int | None = Field(None, ge=0, le=30 * 24 * 3600)
    cancel_on_payment_failure: bool | None = None
