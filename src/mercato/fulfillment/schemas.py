from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ShipmentStatusName = Literal["pending", "picked", "packed", "label_created", "shipped", "in_transit",
                             "out_for_delivery", "delivered", "failed", "returned", "cancelled"]
TrackingStatusName = Literal["shipped", "in_transit", "out_for_delivery", "delivered", "failed", "returned"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ShipmentItemIn(_Input):
    line_id: uuid.UUID
    quantity: int = Field(ge=1, le=1_000_000)


class ShipmentCreate(_Input):
    carrier: str = Field(min_length=1, max_length=50, description="A registered carrier: manual, simulated, …")
    service: str | None = Field(default=None, min_length=1, max_length=50,
                                description="The carrier's service (default: its first)")
    location_id: uuid.UUID | None = Field(
        default=None, description="Where the parcel leaves from. Default: the one location holding all its units")
    items: list[ShipmentItemIn] | None = Field(
        default=None, min_length=1, max_length=250,
        description="Lines and units in this parcel. Default: every unit still to ship that is held at location_id")
    tracking_number: str | None = Field(default=None, min_length=1, max_length=100,
                                        description="Manual carrier: the carrier's tracking number, if known")
    tracking_url: str | None = Field(default=None, min_length=1, max_length=500)


class ShipmentTransition(_Input):
    to: Literal["picked", "packed", "cancelled"]
    reason: str | None = Field(default=None, max_length=500)


class LabelCreate(_Input):
    tracking_number: str | None = Field(default=None, min_length=1, max_length=100,
                                        description="Manual carrier only: the tracking number you got")
    tracking_url: str | None = Field(default=None, min_length=1, max_length=500)


class ShipRequest(_Input):
    reason: str | None = Field(default=None, max_length=500)


class TrackingEventIn(_Input):
    status: TrackingStatusName
    occurred_at: datetime | None = Field(default=None, description="When the carrier scanned it (default: now)")
    location: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    event_id: str | None = Field(default=None, min_length=1, max_length=200,
                                 description="The carrier's id of this update: a repeated push is ignored")


class ShipmentItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_line_id: uuid.UUID
    variant_id: uuid.UUID
    sku: str
    name: str
    quantity: int


class ShipmentEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    from_status: str | None
    to_status: str | None
    source: str
    location: str | None
    message: str | None
    data: dict[str, Any]
    actor_type: str
    actor_id: uuid.UUID | None
    occurred_at: datetime
    created_at: datetime


class Shipment(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    order_id: uuid.UUID
    order_number: str
    sequence: int
    status: ShipmentStatusName
    carrier: str
    service: str
    tracking_number: str | None
    tracking_url: str | None
    location_id: uuid.UUID
    ship_to: dict[str, Any] | None
    items: list[ShipmentItem]
    has_label: bool = False
    label_url: str | None = Field(default=None, description="GET it for the label document (PDF)")
    label_attempts: int
    label_next_attempt_at: datetime | None = Field(description="A failed label is retried then (backoff)")
    label_last_error: str | None
    failure_reason: str | None
    allowed_transitions: list[str]
    picked_at: datetime | None
    packed_at: datetime | None
    label_created_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime
    updated_at: datetime
    history: list[ShipmentEvent] = Field(default_factory=list)


class ShipmentList(BaseModel):
    items: list[Shipment]
    has_more: bool
    next_cursor: str | None = None


class TrackingUpdate(BaseModel):
    """A scan as the customer sees it."""

    status: str | None
    location: str | None
    message: str | None
    occurred_at: datetime


class CustomerShipment(BaseModel):
    id: uuid.UUID
    sequence: int
    status: ShipmentStatusName
    carrier: str
    service: str
    tracking_number: str | None
    tracking_url: str | None
    items: list[ShipmentItem]
    shipped_at: datetime | None
    delivered_at: datetime | None
    tracking: list[TrackingUpdate]


class CustomerShipmentList(BaseModel):
    items: list[CustomerShipment]


class HeldAt(BaseModel):
    location_id: uuid.UUID
    quantity: int = Field(description="Units of this line held (reserved) there and not yet shipped")


class LineAllocation(BaseModel):
    line_id: uuid.UUID
    variant_id: uuid.UUID
    sku: str
    name: str
    quantity: int
    shipped: int
    in_open_shipments: int
    unallocated: int = Field(description="Units still free to put in a new shipment")
    locations: list[HeldAt]


class SuggestedShipment(BaseModel):
    location_id: uuid.UUID | None = Field(description="None: no location holds these units; choose one")
    items: list[ShipmentItemIn]


class Allocation(BaseModel):
    order_id: uuid.UUID
    order_number: str
    order_status: str
    fulfillment_status: str
    lines: list[LineAllocation]
    suggested_shipments: list[SuggestedShipment]
    shipments: list[Shipment]
