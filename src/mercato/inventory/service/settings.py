"""Per-tenant inventory settings (stored in ``inventory_settings``; no row means the defaults)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.inventory import repository, schemas
from mercato.inventory.service.stock import tenant_of
from mercato.platform.security import Principal


async def get_settings(session: AsyncSession) -> schemas.InventorySettings:
    row = await repository.get_settings_row(session)
    if row is None:
        return schemas.InventorySettings(default_low_stock_threshold=repository.DEFAULT_LOW_STOCK_THRESHOLD,
                                         reservation_ttl_seconds=repository.DEFAULT_RESERVATION_TTL_SECONDS)
    return schemas.InventorySettings(default_low_stock_threshold=row.default_low_stock_threshold,
                                     reservation_ttl_seconds=row.reservation_ttl_seconds)


async def update_settings(session: AsyncSession, data: schemas.InventorySettingsUpdate,
                          actor: Principal | None = None) -> schemas.InventorySettings:
    before = await get_settings(session)
    values = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    await repository.upsert_settings(session, tenant_of(session), values)
    after = await get_settings(session)
    await audit.record(session, action="inventory.settings_updated", resource_type="inventory_settings",
                       resource_id=tenant_of(session), changes=audit.diff(before.model_dump(), after.model_dump()),
                       actor=actor)
    return after
