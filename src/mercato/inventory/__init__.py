"""Inventory: stock locations, levels per variant and location, the stock ledger, reservations
that never oversell, and availability for the storefront. Public face.

Checkout uses ``reserve`` / ``commit`` / ``release`` / ``extend`` inside its own transaction;
fulfillment commits per parcel with ``commit_lines``; returns restock with ``adjust``;
the catalog uses ``availability`` (installed as ``app.state.availability_provider``).
"""

from mercato.inventory.domain import ReservationStatus, StockStatus
from mercato.inventory.errors import (
    InsufficientStock,
    LocationNotFound,
    ReservationNotFound,
    VariantNotFound,
    VariantNotSellable,
)
from mercato.inventory.schemas import AdjustmentCreate, AdjustmentResult, Reservation, ReservedVariant
from mercato.inventory.service import (
    adjust,
    availability,
    commit,
    commit_lines,
    extend,
    get_location,
    get_reservation,
    release,
    reserve,
)
from mercato.inventory.tasks import RELEASE_EXPIRED_INTERVAL_SECONDS, release_expired, run_release_expired

__all__ = [
    "RELEASE_EXPIRED_INTERVAL_SECONDS",
    "AdjustmentCreate",
    "AdjustmentResult",
    "InsufficientStock",
    "LocationNotFound",
    "Reservation",
    "ReservationNotFound",
    "ReservationStatus",
    "ReservedVariant",
    "StockStatus",
    "VariantNotFound",
    "VariantNotSellable",
    "adjust",
    "availability",
    "commit",
    "commit_lines",
    "extend",
    "get_location",
    "get_reservation",
    "release",
    "release_expired",
    "reserve",
    "run_release_expired",
]
