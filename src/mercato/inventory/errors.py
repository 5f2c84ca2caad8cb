"""Inventory problems: each carries its HTTP status and a stable ``code``."""

from __future__ import annotations

from typing import Any

from mercato.platform.errors import AlreadyExists, Conflict, NotFound


class LocationNotFound(NotFound):
    code, title = "location_not_found", "Stock location not found"


class LocationCodeTaken(AlreadyExists):
    code, title = "location_code_taken", "A stock location with this code already exists"


class LocationInUse(Conflict):
    code, title = "location_in_use", "The stock location holds stock or history; deactivate it instead"


class VariantNotFound(NotFound):
    code, title = "variant_not_found", "Variant not found"

    def __init__(self, variant_ids: list[Any], **kw: Any) -> None:
        ids = [str(v) for v in variant_ids]
        super().__init__(f"unknown variant(s): {', '.join(ids)}", variant_ids=ids, **kw)


class VariantNotSellable(Conflict):
    code, title = "variant_not_sellable", "Variant is not for sale"

    def __init__(self, variant_ids: list[Any], **kw: Any) -> None:
        ids = [str(v) for v in variant_ids]
        super().__init__(f"not for sale (inactive, deleted or unpublished): {', '.join(ids)}",
                         variant_ids=ids, **kw)


class LevelNotFound(NotFound):
    code, title = "inventory_level_not_found", "Inventory level not found"


class ReservationNotFound(NotFound):
    code, title = "reservation_not_found", "Reservation not found"


class InsufficientStock(Conflict):
    """Some lines cannot be reserved; ``lines`` lists each short one."""

    code, title = "insufficient_stock", "Insufficient stock"

    def __init__(self, shortages: list[dict[str, Any]], **kw: Any) -> None:
        lines = [{"variant_id": str(s["variant_id"]), "requested": s["requested"], "available": s["available"]}
                 for s in shortages]
        super().__init__(f"not enough stock for {len(lines)} line(s)", lines=lines, **kw)


class NegativeStock(Conflict):
    code, title = "negative_stock", "Stock on hand cannot go below zero"


class StockReserved(Conflict):
    code, title = "stock_reserved", "Units are reserved; on hand cannot drop below reserved"
