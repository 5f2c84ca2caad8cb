"""Inventory HTTP API (``/api/v1``): stock locations, levels, adjustments, ledger, reservations, settings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mercato.inventory import schemas, service
from mercato.inventory.auth import InventoryRead, InventoryWrite
from mercato.inventory.schemas import LedgerReason
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import InvalidCursor, PageDep, PageParams, page_of

router = APIRouter(tags=["inventory"])

_R = problem_schema_responses


def _cursor(page: PageParams, *types: type) -> tuple | None:  # type: ignore[type-arg]
    if not page.cursor:
        return None
    if len(page.cursor) != len(types) or not all(isinstance(v, t) for v, t in zip(page.cursor, types, strict=True)):
        raise InvalidCursor(field="query.cursor")
    return tuple(page.cursor)


# --------------------------------------------------------------------------- stock locations


@router.post("/stock-locations", status_code=status.HTTP_201_CREATED, response_model=schemas.StockLocation,
             summary="Create a stock location", responses=_R(401, 403, 409, 422))
async def create_location(data: schemas.StockLocationCreate, session: SessionDep,
                          principal: InventoryWrite) -> schemas.StockLocation:
    return schemas.StockLocation.model_validate(await service.create_location(session, data, principal))


@router.get("/stock-locations", response_model=schemas.StockLocationList, summary="List stock locations",
            description="Ordered by priority (preferred first). Paginated (`limit`, `offset`/`cursor`).",
            responses=_R(400, 401, 403))
async def list_locations(session: SessionDep, _: InventoryRead, page: PageDep,
                         is_active: Annotated[bool | None, Query()] = None) -> schemas.StockLocationList:
    after = _cursor(page, int, uuid.UUID)
    rows = await service.list_locations(session, limit=page.limit, offset=page.offset, after=after,  # type: ignore[arg-type]
                                        is_active=is_active)
    rows, has_more, cursor = page_of(rows, page, key=lambda loc: [loc.priority, loc.id])
    return schemas.StockLocationList(items=[schemas.StockLocation.model_validate(r) for r in rows],
                                     has_more=has_more, next_cursor=cursor)


@router.get("/stock-locations/{location_id}", response_model=schemas.StockLocation, summary="Get a stock location",
            responses=_R(401, 403, 404))
async def get_location(location_id: uuid.UUID, session: SessionDep, _: InventoryRead) -> schemas.StockLocation:
    return schemas.StockLocation.model_validate(await service.get_location(session, location_id))


@router.patch("/stock-locations/{location_id}", response_model=schemas.StockLocation,
              summary="Update a stock location", description="Deactivate (`is_active: false`) to stop reserving "
              "from it; its stock then no longer counts as available.", responses=_R(401, 403, 404, 409, 422))
async def update_location(location_id: uuid.UUID, data: schemas.StockLocationUpdate, session: SessionDep,
                          principal: InventoryWrite) -> schemas.StockLocation:
    return schemas.StockLocation.model_validate(await service.update_location(session, location_id, data, principal))


@router.delete("/stock-locations/{location_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete an unused stock location",
               description="Only a location that never held stock; otherwise 409 `location_in_use` (deactivate it).",
               responses=_R(401, 403, 404, 409))
async def delete_location(location_id: uuid.UUID, session: SessionDep, principal: InventoryWrite) -> Response:
    await service.delete_location(session, location_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --------------------------------------------------------------------------- levels


@router.get("/inventory/levels", response_model=schemas.InventoryLevelList, summary="List inventory levels",
            description="Filter by `variant_id`, `location_id`, `low_stock`. Paginated (`limit`, `offset`/`cursor`).",
            responses=_R(400, 401, 403))
async def list_levels(session: SessionDep, _: InventoryRead, page: PageDep,
                      variant_id: Annotated[uuid.UUID | None, Query()] = None,
                      location_id: Annotated[uuid.UUID | None, Query()] = None,
                      low_stock: Annotated[bool | None, Query()] = None) -> schemas.InventoryLevelList:
    after = _cursor(page, datetime, uuid.UUID)
    rows = await service.list_levels(session, limit=page.limit, offset=page.offset, after=after,  # type: ignore[arg-type]
                                     variant_id=variant_id, location_id=location_id, low_stock=low_stock)
    rows, has_more, cursor = page_of(rows, page, key=lambda r: list(r[1]))
    return schemas.InventoryLevelList(items=[r[0] for r in rows], has_more=has_more, next_cursor=cursor)


@router.patch("/inventory/levels/{level_id}", response_model=schemas.InventoryLevel,
              summary="Set a level's low-stock threshold", responses=_R(401, 403, 404, 422))
async def update_level(level_id: uuid.UUID, data: schemas.InventoryLevelUpdate, session: SessionDep,
                       principal: InventoryWrite) -> schemas.InventoryLevel:
    return await service.update_level(session, level_id, data, principal)


@router.get("/variants/{variant_id}/inventory", response_model=schemas.VariantInventory,
            summary="A variant's stock at every location", responses=_R(401, 403, 404))
async def variant_inventory(variant_id: uuid.UUID, session: SessionDep, _: InventoryRead) -> schemas.VariantInventory:
    return await service.variant_inventory(session, variant_id)


# --------------------------------------------------------------------------- adjustments and ledger


@router.post("/inventory/adjustments", status_code=status.HTTP_201_CREATED, response_model=schemas.AdjustmentResult,
             summary="Adjust stock on hand",
             description="`delta` or `set` (a count), with a `reason`. Writes a ledger row in the same transaction. "
                         "409 `negative_stock` if on hand would go below 0; 409 `stock_reserved` if it would go "
                         "below the reserved units.",
             responses=_R(401, 403, 404, 409, 422))
async def adjust(data: schemas.AdjustmentCreate, session: SessionDep,
                 principal: InventoryWrite) -> schemas.AdjustmentResult:
    return await service.adjust(session, data, principal)


@router.get("/inventory/ledger", response_model=schemas.LedgerPage, summary="The stock ledger (newest first)",
            description="Filter by `variant_id`, `location_id`, `reason`, `reservation_id`, `since`. Paginated.",
            responses=_R(400, 401, 403))
async def ledger(session: SessionDep, _: InventoryRead, page: PageDep,
                 variant_id: Annotated[uuid.UUID | None, Query()] = None,
                 location_id: Annotated[uuid.UUID | None, Query()] = None,
                 reason: Annotated[LedgerReason | None, Query()] = None,
                 reservation_id: Annotated[uuid.UUID | None, Query()] = None,
                 since: Annotated[datetime | None, Query()] = None) -> schemas.LedgerPage:
    after = _cursor(page, int)
    rows = await service.list_ledger(session, limit=page.limit, offset=page.offset,
                                     before_id=after[0] if after else None, variant_id=variant_id,
                                     location_id=location_id, reason=reason, since=since,
                                     reservation_id=reservation_id)
    rows, has_more, cursor = page_of(rows, page, key=lambda e: [e.id])
    return schemas.LedgerPage(items=[schemas.LedgerEntry.model_validate(r) for r in rows], has_more=has_more,
                              next_cursor=cursor)


# --------------------------------------------------------------------------- reservations


@router.post("/inventory/reservations", status_code=status.HTTP_201_CREATED, response_model=schemas.Reservation,
             summary="Reserve stock",
             description="All or nothing. Locations are chosen by priority and availability, splitting when "
                         "needed; 409 `insufficient_stock` lists each short line.",
             responses=_R(401, 403, 404, 409, 422))
async def reserve(data: schemas.ReservationCreate, session: SessionDep,
                  principal: InventoryWrite) -> schemas.Reservation:
    return await service.reserve(session, [(line.variant_id, line.quantity) for line in data.lines],
                                 expires_in=data.expires_in_seconds, reference=data.reference, actor=principal)


@router.get("/inventory/reservations/{reservation_id}", response_model=schemas.Reservation,
            summary="Get a reservation", responses=_R(401, 403, 404))
async def get_reservation(reservation_id: uuid.UUID, session: SessionDep, _: InventoryRead) -> schemas.Reservation:
    return await service.get_reservation(session, reservation_id)


@router.post("/inventory/reservations/{reservation_id}/commit", response_model=schemas.Reservation,
             summary="Commit a reservation (a sale)", responses=_R(401, 403, 404, 409))
async def commit(reservation_id: uuid.UUID, session: SessionDep, principal: InventoryWrite) -> schemas.Reservation:
    return await service.commit(session, reservation_id, actor=principal)


@router.post("/inventory/reservations/{reservation_id}/release", response_model=schemas.Reservation,
             summary="Release a reservation", responses=_R(401, 403, 404, 409, 422))
async def release(reservation_id: uuid.UUID, session: SessionDep, principal: InventoryWrite,
                  data: schemas.ReservationRelease | None = None) -> schemas.Reservation:
    reason = data.reason if data else "cancelled"
    return await service.release(session, reservation_id, reason, actor=principal)


@router.post("/inventory/reservations/{reservation_id}/extend", response_model=schemas.Reservation,
             summary="Extend an active reservation", responses=_R(401, 403, 404, 409, 422))
async def extend(reservation_id: uuid.UUID, session: SessionDep, principal: InventoryWrite,
                 data: schemas.ReservationExtend | None = None) -> schemas.Reservation:
    return await service.extend(session, reservation_id, data.expires_in_seconds if data else None, actor=principal)


# --------------------------------------------------------------------------- settings


@router.get("/inventory/settings", response_model=schemas.InventorySettings, summary="Inventory settings",
            responses=_R(401, 403))
async def get_settings(session: SessionDep, _: InventoryRead) -> schemas.InventorySettings:
    return await service.get_settings(session)


@router.patch("/inventory/settings", response_model=schemas.InventorySettings,
              summary="Update inventory settings", responses=_R(401, 403, 422))
async def update_settings(data: schemas.InventorySettingsUpdate, session: SessionDep,
                          principal: InventoryWrite) -> schemas.InventorySettings:
    return await service.update_settings(session, data, principal)


__all__ = ["router"]
