"""Fulfillment problems: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from typing import Any

from mercato.platform.errors import Conflict, IllegalTransition, NotFound, ServiceUnavailable, ValidationFailed

__all__ = ["CarrierUnavailable", "IllegalTransition", "LocationRequired", "OrderNotFulfillable", "QuantityExceedsRemaining",
           "ShipmentLabelMissing", "ShipmentNotFound", "TenantRequired", "UnknownCarrier", "UnknownLocation", "UnknownOrderLine"]


class ShipmentNotFound(NotFound):
    code, title = "shipment_not_found", "Shipment not found"


class ShipmentLabelMissing(NotFound):
    code, title = "shipment_label_not_found", "This shipment has no label document"


class UnknownCarrier(ValidationFailed):
    code, title = "unknown_carrier", "No such carrier, or the carrier does not offer this service"


class UnknownOrderLine(ValidationFailed):
    code, title = "order_line_not_found", "The line is not part of this order"


class UnknownLocation(ValidationFailed):
    code, title = "location_not_found", "No such stock location"


class LocationRequired(ValidationFailed):
    code, title = "location_required", "Say which stock location the parcel leaves from"


class QuantityExceedsRemaining(Conflict):
    """More units than the line has left to ship (ordered − shipped − set aside in open shipments)."""

    code, title = "quantity_exceeds_remaining", "More units than are left to ship on this line"


class OrderNotFulfillable(Conflict):
    code, title = "order_not_fulfillable", "This order cannot be fulfilled in its current status"


class TenantRequired(ValidationFailed):
    code, title = "tenant_required", "This request must name a shop (API key, host or X-Mercato-Tenant)"


class CarrierUnavailable(ServiceUnavailable):
    """The carrier's circuit is open: calls fail fast without touching it; try again after Retry-After."""

    code, title = "carrier_unavailable", "The carrier is unavailable, try again later"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(max(1, retry_after))})
        super().__init__(detail or "the carrier is unavailable; try again later", retry_after=max(1, retry_after),
                         **kw)
