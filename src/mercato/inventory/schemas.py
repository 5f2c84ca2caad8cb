"""Request and response models of the inventory API (``extra="forbid"`` on input)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import pycountry
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mercato.inventory.domain import ADJUSTMENT_REASONS

AdjustmentReason = Literal["received", "return", "damaged", "shrinkage", "correction", "cycle_count",
                           "transfer_in", "transfer_out"]
assert set(AdjustmentReason.__args__) == set(ADJUSTMENT_REASONS)  # type: ignore[attr-defined]
LedgerReason = Literal["received", "return", "damaged", "shrinkage", "correction", "cycle_count",
                       "transfer_in", "transfer_out", "reservation", "release", "expiry", "sale"]
ReservationStatusName = Literal["active", "committed", "released", "expired"]
StockStatusName = Literal["in_stock", "low_stock", "out_of_stock", "backorder"]

MAX_TTL_SECONDS = 7 * 24 * 3600


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


Country = Annotated[str, AfterValidator(_country)]


# --------------------------------------------------------------------------- locations


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country: Country = Field(description="ISO 3166-1 alpha-2, e.g. DE")


Code = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                            description="Unique per shop, e.g. `BER-1`.")]


class StockLocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    code: Code
    address: Address | None = None
    priority: int = Field(default=0, ge=0, le=1_000_000, description="Lower is preferred when reserving.")
    is_active: bool = True


class StockLocationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    code: Code | None = None
    address: Address | None = None
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    is_active: bool | None = None


class StockLocation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    code: str
    address: dict[str, Any] | None
    priority: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class StockLocationList(BaseModel):
    items: list[StockLocation]
    has_more: bool
    next_cursor: str | None = None


# --------------------------------------------------------------------------- levels


class InventoryLevel(BaseModel):
    id: uuid.UUID
    variant_id: uuid.UUID
    location_id: uuid.UUID
    location_code: str
    location_active: bool
    on_hand: int
    reserved: int
    available: int
    reorder_threshold: int | None = Field(description="null: the shop's default applies")
    effective_reorder_threshold: int
    low_stock: bool
    last_restocked_at: datetime | None
    updated_at: datetime


class InventoryLevelList(BaseModel):
    items: list[InventoryLevel]
    has_more: bool
    next_cursor: str | None = None


class InventoryLevelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reorder_threshold: int | None = Field(ge=0, le=1_000_000, description="null resets to the shop default")


class VariantInventory(BaseModel):
    variant_id: uuid.UUID
    on_hand: int
    reserved: int
    available: int = Field(description="Sum over active locations")
    status: StockStatusName
    allow_backorder: bool
    backorder_eta: date | None
    levels: list[InventoryLevel]


# --------------------------------------------------------------------------- adjustments and ledger


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    variant_id: uuid.UUID
    location_id: uuid.UUID
    delta: int | None = Field(default=None, ge=-1_000_000, le=1_000_000, description="Change of on hand")
    set_to: int | None = Field(default=None, alias="set", ge=0, le=1_000_000, description="New on hand (a count)")
    reason: AdjustmentReason
    note: str | None = Field(default=None, max_length=2000)
    reference: str | None = Field(default=None, max_length=200, description="e.g. a purchase order number")

    @model_validator(mode="after")
    def _one_of(self) -> AdjustmentCreate:
        if (self.delta is None) == (self.set_to is None):
            raise ValueError("give exactly one of 'delta' and 'set'")
        if self.delta == 0:
            raise ValueError("delta must not be 0")
        return self


class LedgerEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    variant_id: uuid.UUID
    location_id: uuid.UUID
    reason: str
    delta_on_hand: int
    delta_reserved: int
    on_hand_after: int
    reserved_after: int
    reservation_id: uuid.UUID | None
    reference: str | None
    note: str | None
    actor_type: str
    actor_id: uuid.UUID | None
    created_at: datetime


class LedgerPage(BaseModel):
    items: list[LedgerEntry]
    has_more: bool
    next_cursor: str | None = None


class AdjustmentResult(BaseModel):
    level: InventoryLevel
    ledger_entry: LedgerEntry


# --------------------------------------------------------------------------- reservations


class ReservationLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: uuid.UUID
    quantity: int = Field(ge=1, le=100_000)


class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[ReservationLineIn] = Field(min_length=1, max_length=250)
    expires_in_seconds: int | None = Field(default=None, ge=10, le=MAX_TTL_SECONDS,
                                           description="Default: the shop's reservation TTL (900 s)")
    reference: str | None = Field(default=None, max_length=200, description="e.g. the checkout or order id")


class ReservationExtend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_seconds: int | None = Field(default=None, ge=10, le=MAX_TTL_SECONDS)


class ReservationRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="cancelled", min_length=1, max_length=100)


class Allocation(BaseModel):
    location_id: uuid.UUID
    quantity: int
    committed: int = Field(default=0, description="Units already sold from this hold by a partial commit (shipment)")


class ReservedVariant(BaseModel):
    variant_id: uuid.UUID
    quantity: int = Field(description="Total units held for this variant (allocated + backordered)")
    allocations: list[Allocation]
    backordered: int = 0
    backorder_eta: date | None = None


class Reservation(BaseModel):
    id: uuid.UUID
    status: ReservationStatusName
    reference: str | None
    expires_at: datetime
    committed_at: datetime | None
    released_at: datetime | None
    release_reason: str | None
    created_at: datetime
    lines: list[ReservedVariant]


# --------------------------------------------------------------------------- settings


class InventorySettings(BaseModel):
    default_low_stock_threshold: int
    reservation_ttl_seconds: int


class InventorySettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_low_stock_threshold: int | None = Field(default=None, ge=0, le=1_000_000)
    reservation_ttl_seconds: int | None = Field(default=None, ge=10, le=MAX_TTL_SECONDS)


# --------------------------------------------------------------------------- availability


class Availability(BaseModel):
    available: int
    status: StockStatusName
    backorder_eta: date | None = None
