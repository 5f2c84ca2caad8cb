from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mercato.pricing import AddressIn


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LineAdd(_Input):
    variant_id: uuid.UUID
    quantity: int = Field(default=1, ge=-(10**6), le=10**6, description="1–99 per line (summed with the line)")


class LineUpdate(_Input):
    quantity: int = Field(ge=-(10**6), le=10**6, description="The line's new quantity, 1–99")


class CouponIn(_Input):
    code: str = Field(min_length=1, max_length=64)


class ShippingAddressIn(AddressIn):
    pass


class ShippingMethodChoice(_Input):
    method_id: uuid.UUID


class CartLine(BaseModel):
    id: uuid.UUID
    variant_id: uuid.UUID
    product_id: uuid.UUID | None
    sku: str | None
    name: str | None
    title: str | None
    quantity: int
    unit_price: int | None = Field(description="Current price, minor units")
    subtotal: int
    discount: int
    tax: int
    tax_rate: Decimal
    total: int
    available: int | None = Field(description="Units in stock, when an availability source is configured")
    warnings: list[str] = Field(description="variant_unavailable, currency_mismatch, out_of_stock, "
                                            "insufficient_stock")


class CartCoupon(BaseModel):
    code: str
    applied: bool
    discount: int = 0
    shipping_discount: int = 0
    reason: str | None = Field(default=None, description="Why the code does not apply now (a problem code)")


class CartShippingMethod(BaseModel):
    id: uuid.UUID
    name: str
    price_cents: int
    min_delivery_days: int | None
    max_delivery_days: int | None


class CartTotals(BaseModel):
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    tax_total: int
    total: int


class CartWarning(BaseModel):
    code: str
    message: str
    line_id: uuid.UUID | None = None


class Cart(BaseModel):
    id: uuid.UUID
    status: str
    currency: str | None
    customer_id: uuid.UUID | None
    token: str | None = Field(default=None, description="Guest carts: shown once, at creation; send it back "
                                                        "as X-Cart-Token")
    item_count: int
    lines: list[CartLine]
    coupons: list[CartCoupon]
    shipping_address: dict[str, Any] | None
    shipping_method: CartShippingMethod | None
    totals: CartTotals
    prices_include_tax: bool
    tax_calculated: bool = Field(description="False until a shipping address tells where tax applies")
    warnings: list[CartWarning]
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


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
