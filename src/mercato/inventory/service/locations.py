"""Stock locations (warehouses): CRUD, audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.inventory import repository, schemas
from mercato.inventory.errors import LocationCodeTaken, LocationInUse, LocationNotFound
from mercato.inventory.models import StockLocation
from mercato.inventory.service.stock import tenant_of
from mercato.platform.security import Principal

_FIELDS = ("name", "code", "address", "priority", "is_active")


def _snapshot(loc: StockLocation) -> dict[str, Any]:
    return {f: getattr(loc, f) for f in _FIELDS}


async def create_location(session: AsyncSession, data: schemas.StockLocationCreate,
                          actor: Principal | None = None) -> StockLocation:
    values = data.model_dump(mode="json")
    loc = await repository.insert_location(session, tenant_of(session), values)
    if loc is None:
        raise LocationCodeTaken(field="code")
    await audit.record(session, action="stock_location.created", resource_type="stock_location", resource_id=loc.id,
                       changes=audit.diff({}, _snapshot(loc)), actor=actor)
    return loc


async def get_location(session: AsyncSession, location_id: uuid.UUID) -> StockLocation:
    loc = await repository.get_location(session, location_id)
    if loc is None:
        raise LocationNotFound()
    return loc


async def list_locations(session: AsyncSession, *, limit: int, offset: int = 0,
                         after: tuple[int, uuid.UUID] | None = None, is_active: bool | None = None
                         ) -> list[StockLocation]:
    return await repository.list_locations(session, limit=limit, offset=offset, after=after, is_active=is_active)


async def update_location(session: AsyncSession, location_id: uuid.UUID, data: schemas.StockLocationUpdate,
                          actor: Principal | None = None) -> StockLocation:
    loc = await repository.get_location(session, location_id, lock=True)
    if loc is None:
        raise LocationNotFound()
    before = _snapshot(loc)
    changes = data.model_dump(mode="json", exclude_unset=True)
    for key in ("name", "code", "priority", "is_active"):  # not nullable
        if key in changes and changes[key] is None:
            del changes[key]
    if "code" in changes and changes["code"] != loc.code and await repository.code_taken(
            session, changes["code"], loc.id):
        raise LocationCodeTaken(field="code")
    for key, value in changes.items():
        setattr(loc, key, value)
    loc.updated_at = datetime.now(UTC)  # set here, not by onupdate: an expired attribute cannot lazy-load
    await session.flush()
    await audit.record(session, action="stock_location.updated", resource_type="stock_location", resource_id=loc.id,
                       changes=audit.diff(before, _snapshot(loc)), actor=actor)
    return loc


async def delete_location(session: AsyncSession, location_id: uuid.UUID, actor: Principal | None = None) -> None:
    """Only a location that never held stock can be deleted; others are deactivated (``is_active=false``)."""
    loc = await repository.get_location(session, location_id, lock=True)
    if loc is None:
        raise LocationNotFound()
    if await repository.location_in_use(session, location_id):
        raise LocationInUse()
    before = _snapshot(loc)
    await repository.delete_location(session, location_id)
    await audit.record(session, action="stock_location.deleted", resource_type="stock_location",
                       resource_id=location_id, changes=audit.diff(before, {}), actor=actor)
