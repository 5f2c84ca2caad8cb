from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RateType = Literal["flat", "weight", "subtotal", "free_above"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ZoneCreate(_Input):
    name: str = Field(min_length=1, max_length=200)
    countries: list[str] = Field(min_length=1, max_length=300, description="ISO 3166-1 alpha-2 codes")
    regions: list[str] = Field(default_factory=list, max_length=500,
                               description="Optional state/province codes (e.g. CA or US-CA); empty = whole countries")


class ZoneUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    countries: list[str] | None = Field(default=None, min_length=1, max_length=300)
    regions: list[str] | None = Field(default=None, max_length=500)


class Zone(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    countries: list[str]
    regions: list[str]
    created_at: datetime
    updated_at: datetime


class ZoneList(BaseModel):
    items: list[Zone]
    has_more: bool
    next_cursor: str | None = None


class Bracket(_Input):
    up_to: int | None = Field(default=None, ge=0, description="Inclusive upper bound (grams or minor units); "
                                                              "null = unbounded (last bracket only)")
    rate_cents: int = Field(ge=0)


class MethodCreate(_Input):
    zone_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    rate_type: RateType
    currency: str = Field(min_length=3, max_length=3)
    flat_rate_cents: int | None = Field(default=None, ge=0)
    brackets: list[Bracket] = Field(default_factory=list, max_length=50)
    free_above_cents: int | None = Field(default=None, ge=0, description="Free from this subtotal (any rate type)")
    min_delivery_days: int | None = Field(default=None, ge=0, le=365)
    max_delivery_days: int | None = Field(default=None, ge=0, le=365)
    is_active: bool = True
    position: int = Field(default=0, ge=0, le=10_000)


class MethodUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    rate_type: RateType | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    flat_rate_cents: int | None = Field(default=None, ge=0)
    brackets: list[Bracket] | None = Field(default=None, max_length=50)
    free_above_cents: int | None = Field(default=None, ge=0)
    min_delivery_days: int | None = Field(default=None, ge=0, le=365)
    max_delivery_days: int | None = Field(default=None, ge=0, le=365)
    is_active: bool | None = None
    position: int | None = Field(default=None, ge=0, le=10_000)


class Method(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    rate_type: RateType
    currency: str
    flat_rate_cents: int | None
    brackets: list[Bracket]
    free_above_cents: int | None
    min_delivery_days: int | None
    max_delivery_days: int | None
    is_active: bool
    position: int
    created_at: datetime
    updated_at: datetime


class MethodList(BaseModel):
    items: list[Method]
    has_more: bool
    next_cursor: str | None = None


class ShippingOptionOut(BaseModel):
    method_id: uuid.UUID
    zone_id: uuid.UUID
    name: str
    price_cents: int
    currency: str
    min_delivery_days: int | None
    max_delivery_days: int | None
