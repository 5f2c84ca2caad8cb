"""Inventory levels: adjustments (with their ledger rows), reads, thresholds, the ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.catalog as catalog
from mercato.inventory import domain, repository, schemas
from mercato.inventory import events as ev
from mercato.inventory.errors import LevelNotFound, LocationNotFound, VariantNotFound
from mercato.inventory.models import LedgerEntry
from mercato.inventory.service.settings import get_settings, update_settings
from mercato.inventory.service.stock import StockBook, tenant_of
from mercato.platform.security import Principal

__all__ = ["adjust", "get_settings", "list_ledger", "list_levels", "update_level", "update_settings",
           "variant_inventory"]


def level_out(row: Any) -> schemas.InventoryLevel:
    available = row.on_hand - row.reserved
    return schemas.InventoryLevel(
        id=row.id, variant_id=row.variant_id, location_id=row.location_id, location_code=row.location_code,
        location_active=row.location_active, on_hand=row.on_hand, reserved=row.reserved, available=available,
        reorder_threshold=row.reorder_threshold, effective_reorder_threshold=row.effective_threshold,
        low_stock=domain.is_low(available, row.effective_threshold), last_restocked_at=row.last_restocked_at,
        updated_at=row.updated_at)


async def _level_view(session: AsyncSession, level_id: uuid.UUID) -> schemas.InventoryLevel:
    rows = await repository.level_rows(session, level_ids=[level_id])
    return level_out(rows[0])


async def adjust(session: AsyncSession, data: schemas.AdjustmentCreate,
                 actor: Principal | None = None) -> schemas.AdjustmentResult:
    """Change a level's on hand (by ``delta`` or to ``set``), with its ledger row, event and audit entry.

    The level is created at zero the first time a variant is stocked at a location.
    """
    tenant = tenant_of(session)
    refs = await catalog.get_variant_refs(session, [data.variant_id])
    if data.variant_id not in refs:
        raise VariantNotFound([data.variant_id])
    if await repository.get_location(session, data.location_id) is None:
        raise LocationNotFound(field="location_id")
    settings = await get_settings(session)
    await repository.ensure_level(session, tenant, data.variant_id, data.location_id)
    book = await StockBook.lock(session, [data.variant_id], default_threshold=settings.default_low_stock_threshold,
                                actor=actor)
    level = book.find(data.variant_id, data.location_id)
    assert level is not None
    before = level.on_hand
    new_on_hand = domain.adjusted_on_hand(level.on_hand, level.reserved, delta=data.delta, set_to=data.set_to)
    delta = new_on_hand - level.on_hand
    if delta > 0 and data.reason in domain.RESTOCK_REASONS:
        level.last_restocked_at = datetime.now(UTC)
    book.change(level.id, d_on_hand=delta, d_reserved=0, reason=data.reason, reference=data.reference,
                note=data.note)
    entries = await book.finish()
    await ev.stock_event(session, ev.ADJUSTED, level.variant_id, {
        "location_id": str(level.location_id), "level_id": str(level.id), "reason": data.reason,
        "delta_on_hand": delta, "on_hand": level.on_hand, "reserved": level.reserved,
        "available": level.on_hand - level.reserved, "reference": data.reference})
    await book.publish_crossings()
    await audit.record(session, action="inventory.adjusted", resource_type="inventory_level", resource_id=level.id,
                       changes={"on_hand": {"from": before, "to": level.on_hand}, "reason": data.reason,
                                "note": data.note}, actor=actor)
    return schemas.AdjustmentResult(level=await _level_view(session, level.id),
                                    ledger_entry=schemas.LedgerEntry.model_validate(entries[0]))


async def update_level(session: AsyncSession, level_id: uuid.UUID, data: schemas.InventoryLevelUpdate,
                       actor: Principal | None = None) -> schemas.InventoryLevel:
    """Set (or reset to the shop default, with null) a level's low-stock threshold."""
    found = await repository.get_level(session, level_id)
    if found is None:
        raise LevelNotFound()
    settings = await get_settings(session)
    book = await StockBook.lock(session, [found.variant_id], default_threshold=settings.default_low_stock_threshold,
                                actor=actor)
    level = book.levels[level_id]
    before = level.reorder_threshold
    level.reorder_threshold = data.reorder_threshold
    book.touch(level_id)
    await book.finish()
    await book.publish_crossings()
    await audit.record(session, action="inventory.threshold_changed", resource_type="inventory_level",
                       resource_id=level_id, changes=audit.diff({"reorder_threshold": before},
                                                                {"reorder_threshold": level.reorder_threshold}),
                       actor=actor)
    return await _level_view(session, level_id)


async def list_levels(session: AsyncSession, *, limit: int, offset: int = 0,
                      after: tuple[datetime, uuid.UUID] | None = None, variant_id: uuid.UUID | None = None,
                      location_id: uuid.UUID | None = None, low_stock: bool | None = None
                      ) -> list[tuple[schemas.InventoryLevel, tuple[datetime, uuid.UUID]]]:
    """A page of levels (``limit + 1`` rows to detect more), each with its cursor key. One query."""
    rows = await repository.list_levels(session, limit=limit, offset=offset, after=after, variant_id=variant_id,
                                        location_id=location_id, low_stock=low_stock)
    return [(level_out(r), (r.created_at, r.id)) for r in rows]


async def variant_inventory(session: AsyncSession, variant_id: uuid.UUID) -> schemas.VariantInventory:
    refs = await catalog.get_variant_refs(session, [variant_id])
    ref = refs.get(variant_id)
    if ref is None:
        raise VariantNotFound([variant_id])
    levels = [level_out(r) for r in await repository.level_rows(session, variant_id=variant_id)]
    active = [lv for lv in levels if lv.location_active]
    available = sum(lv.available for lv in active)
    threshold = sum(lv.effective_reorder_threshold for lv in active)
    status = domain.stock_status(available, threshold, ref.allow_backorder)
    return schemas.VariantInventory(
        variant_id=variant_id, on_hand=sum(lv.on_hand for lv in active), reserved=sum(lv.reserved for lv in active),
        available=available, status=status.value, allow_backorder=ref.allow_backorder,
        backorder_eta=ref.backorder_eta if status == domain.StockStatus.BACKORDER else None, levels=levels)


async def list_ledger(session: AsyncSession, *, limit: int, offset: int = 0, before_id: int | None = None,
                      variant_id: uuid.UUID | None = None, location_id: uuid.UUID | None = None,
                      reason: str | None = None, since: datetime | None = None,
                      reservation_id: uuid.UUID | None = None) -> list[LedgerEntry]:
    return await repository.list_ledger(session, limit=limit, offset=offset, before_id=before_id,
                                        variant_id=variant_id, location_id=location_id, reason=reason, since=since,
                                        reservation_id=reservation_id)
