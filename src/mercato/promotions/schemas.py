from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["percentage_off", "fixed_amount_off", "free_shipping", "buy_x_get_y"]
Percent = Decimal


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PromotionCreate(_Input):
    code: str = Field(min_length=2, max_length=64, description="Case-insensitive; unique per shop")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    kind: Kind
    percent: Decimal | None = Field(default=None, ge=0, le=100, max_digits=5, decimal_places=2,
                                    description="percentage_off: percent off; buy_x_get_y: percent off the Y units "
                                                "(default 100 = free)")
    amount_cents: int | None = Field(default=None, ge=0, le=10**12, description="fixed_amount_off, minor units")
    currency: str | None = Field(default=None, min_length=3, max_length=3,
                                 description="Currency of amount_cents and minimum_subtotal_cents")
    product_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500,
                                         description="Limit to these products (empty and no categories: whole order)")
    category_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    buy_quantity: int | None = Field(default=None, ge=1, le=1000)
    get_quantity: int | None = Field(default=None, ge=1, le=1000)
    minimum_subtotal_cents: int | None = Field(default=None, ge=0, le=10**12)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = Field(default=None, ge=1, description="Total redemptions by placed orders")
    per_customer_limit: int | None = Field(default=None, ge=1)
    combinable: bool = Field(default=False, description="May be stacked with other combinable codes")
    is_active: bool = True


class PromotionUpdate(_Input):
    code: str | None = Field(default=None, min_length=2, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    kind: Kind | None = None
    percent: Decimal | None = Field(default=None, ge=0, le=100, max_digits=5, decimal_places=2)
    amount_cents: int | None = Field(default=None, ge=0, le=10**12)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    product_ids: list[uuid.UUID] | None = Field(default=None, max_length=500)
    category_ids: list[uuid.UUID] | None = Field(default=None, max_length=100)
    buy_quantity: int | None = Field(default=None, ge=1, le=1000)
    get_quantity: int | None = Field(default=None, ge=1, le=1000)
    minimum_subtotal_cents: int | None = Field(default=None, ge=0, le=10**12)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    usage_limit: int | None = Field(default=None, ge=1)
    per_customer_limit: int | None = Field(default=None, ge=1)
    combinable: bool | None = None
    is_active: bool | None = None


class Promotion(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    name: str
    description: str | None
    kind: Kind
    percent: Decimal | None
    amount_cents: int | None
    currency: str | None
    product_ids: list[uuid.UUID]
    category_ids: list[uuid.UUID]
    buy_quantity: int | None
    get_quantity: int | None
    minimum_subtotal_cents: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    usage_limit: int | None
    usage_count: int
    per_customer_limit: int | None
    combinable: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime


class PromotionList(BaseModel):
    items: list[Promotion]
    has_more: bool
    next_cursor: str | None = None
