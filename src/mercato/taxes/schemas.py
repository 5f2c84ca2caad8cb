from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TaxRateCreate(_Input):
    name: str = Field(min_length=1, max_length=100, examples=["CA state sales tax"])
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2")
    region: str = Field(default="", max_length=100, description="State/province code; empty = whole country")
    postal_prefix: str = Field(default="", max_length=20, description="Postal code prefix; empty = any")
    tax_class: str = Field(default="standard", min_length=1, max_length=50)
    rate: Decimal = Field(ge=0, le=100, max_digits=7, decimal_places=4, description="Percent, e.g. \"8.875\"")


class TaxRateUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    region: str | None = Field(default=None, max_length=100)
    postal_prefix: str | None = Field(default=None, max_length=20)
    tax_class: str | None = Field(default=None, min_length=1, max_length=50)
    rate: Decimal | None = Field(default=None, ge=0, le=100, max_digits=7, decimal_places=4)


class TaxRate(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    country: str
    region: str
    postal_prefix: str
    tax_class: str
    rate: Decimal
    created_at: datetime
    updated_at: datetime


class TaxRateList(BaseModel):
    items: list[TaxRate]
    has_more: bool
    next_cursor: str | None = None


class TaxSettingsIn(_Input):
    prices_include_tax: bool = Field(description="Catalog prices already contain tax (extracted, not added)")
    shipping_tax_class: str | None = Field(default=None, max_length=50,
                                           description="Tax shipping at this class's rate; null = untaxed")


class TaxSettingsOut(BaseModel):
    prices_include_tax: bool
    shipping_tax_class: str | None
