from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from mercato.pricing import AddressIn


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CheckoutCreate(_Input):
    cart_id: uuid.UUID
    email: EmailStr | None = Field(default=None, description="Required for guests; customers default to their "
                                                            "account's e-mail")
    organization_name: str | None = Field(default=None, max_length=200, description="B2B: buying organization")
    purchase_order_number: str | None = Field(default=None, max_length=100, description="B2B: the buyer's PO number")


class CheckoutUpdate(_Input):
    email: EmailStr | None = None
    organization_name: str | None = Field(default=None, max_length=200)
    purchase_order_number: str | None = Field(default=None, max_length=100)


class CheckoutAddressIn(AddressIn):
    pass


class ShippingMethodChoice(_Input):
    method_id: uuid.UUID


class CouponIn(_Input):
    code: str = Field(min_length=1, max_length=64)


class PaymentMethodChoice(_Input):
    method: Literal["test", "manual", "stripe"]


class CompleteIn(_Input):
    """Payment data for the chosen method: ``test`` needs ``card_number``; ``stripe`` needs nothing
    (the response carries the PaymentIntent's ``client_secret`` for Stripe.js) or a
    ``payment_method_id`` (``pm_…``) to confirm server-side; ``manual`` needs nothing."""

    card_number: str | None = Field(default=None, max_length=40, description="test gateway card")
    payment_method_id: str | None = Field(default=None, max_length=255, description="Stripe PaymentMethod id")
    stripe_flow: Literal["payment_intent", "checkout_session"] = Field(
        default="payment_intent", description="stripe: a PaymentIntent confirmed by Stripe.js (client_secret) or a "
        "hosted Stripe Checkout Session (redirect_url)")
    success_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://",
                                    description="stripe checkout_session: where Stripe sends the customer after paying")
    cancel_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://",
                                   description="stripe checkout_session: where Stripe sends a customer who gives up")


class CheckoutLine(BaseModel):
    id: uuid.UUID
    variant_id: uuid.UUID
    product_id: uuid.UUID | None
    sku: str | None
    name: str | None
    title: str | None
    quantity: int
    unit_price: int | None
    subtotal: int
    discount: int
    tax: int
    tax_rate: Decimal
    total: int
    available: int | None
    warnings: list[str]


class CheckoutCoupon(BaseModel):
    code: str
    applied: bool
    discount: int = 0
    shipping_discount: int = 0
    reason: str | None = None


class CheckoutShippingMethod(BaseModel):
    id: uuid.UUID
    name: str
    price_cents: int
    min_delivery_days: int | None
    max_delivery_days: int | None


class ShippingOption(BaseModel):
    method_id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    price_cents: int
    currency: str
    min_delivery_days: int | None
    max_delivery_days: int | None


class ShippingOptionList(BaseModel):
    items: list[ShippingOption]


class CheckoutTotals(BaseModel):
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    total: int


class CheckoutWarning(BaseModel):
    code: str
    message: str
    line_id: uuid.UUID | None = None


class CheckoutReservation(BaseModel):
    id: uuid.UUID
    expires_at: datetime | None


class CheckoutOrderRef(BaseModel):
    id: uuid.UUID
    number: str | None


class Checkout(BaseModel):
    id: uuid.UUID
    status: str
    cart_id: uuid.UUID
    customer_id: uuid.UUID | None
    email: str | None
    currency: str | None
    lines: list[CheckoutLine]
    coupons: list[CheckoutCoupon]
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    shipping_method: CheckoutShippingMethod | None
    payment_method: str | None
    organization_name: str | None
    purchase_order_number: str | None
    totals: CheckoutTotals
    prices_include_tax: bool
    tax_calculated: bool
    warnings: list[CheckoutWarning]
    reservation: CheckoutReservation | None
    order: CheckoutOrderRef | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class CompletedOrder(BaseModel):
    id: uuid.UUID
    number: str
    status: str
    payment_status: str
    total: int
    currency: str


class CompletedPayment(BaseModel):
    id: uuid.UUID | None
    status: str
    method: str
    client_secret: str | None = Field(default=None, description="Stripe: hand to Stripe.js to confirm")
    next_action: dict[str, Any] | None = None
    redirect_url: str | None = None


class CheckoutCompletion(BaseModel):
    checkout_id: uuid.UUID
    status: str
    order: CompletedOrder
    payment: CompletedPayment
