"""Every query of the inventory module.

Each statement names the tenant explicitly where it inserts, and relies on row-level
security (set per transaction) to confine reads; ``tenant_id`` filters are added where
an index needs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, any_, bindparam, delete, exists, func, insert, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.inventory.models import (
    InventoryLevel,
    InventorySettings,
    LedgerEntry,
    Reservation,
    ReservationLine,
    StockLocation,
)

DEFAULT_LOW_STOCK_THRESHOLD = 5
DEFAULT_RESERVATION_TTL_SECONDS = 900

# --------------------------------------------------------------------------- settings


async def get_settings_row(session: AsyncSession) -> InventorySettings | None:
    return (await session.execute(select(InventorySettings))).scalar_one_or_none()


async def upsert_settings(session: AsyncSession, tenant_id: uuid.UUID, values: dict[str, Any]) -> InventorySettings:
    stmt = pg_insert(InventorySettings).values(tenant_id=tenant_id, **values)
    if values:
        stmt = stmt.on_conflict_do_update(index_elements=["tenant_id"], set_={**values, "updated_at": func.now()})
    else:
        stmt = stmt.on_conflict_do_nothing()
    await session.execute(stmt)
    row = (await session.execute(select(InventorySettings).execution_options(populate_existing=True))).scalar_one()
    return row


def _default_threshold_sql() -> Any:
    """The tenant's default low-stock threshold as a scalar subquery (one row per tenant, RLS-scoped)."""
    return func.coalesce(select(InventorySettings.default_low_stock_threshold).scalar_subquery(),
                         literal(DEFAULT_LOW_STOCK_THRESHOLD))


# --------------------------------------------------------------------------- locations


async def insert_location(session: AsyncSession, tenant_id: uuid.UUID, values: dict[str, Any]) -> StockLocation | None:
    """Insert, or None when the code is taken (no exception, no aborted transaction)."""
    stmt = (pg_insert(StockLocation).values(tenant_id=tenant_id, **values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "code"]).returning(StockLocation))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_location(session: AsyncSession, location_id: uuid.UUID, *, lock: bool = False) -> StockLocation | None:
    q = select(StockLocation).where(StockLocation.id == location_id).execution_options(populate_existing=True)
    if lock:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def code_taken(session: AsyncSession, code: str, except_id: uuid.UUID) -> bool:
    return bool((await session.execute(select(exists().where(
        StockLocation.code == code, StockLocation.id != except_id)))).scalar())


async def list_locations(session: AsyncSession, *, limit: int, offset: int, after: tuple[int, uuid.UUID] | None,
                         is_active: bool | None) -> list[StockLocation]:
    q = select(StockLocation).order_by(StockLocation.priority, StockLocation.id).limit(limit + 1)
    if after is not None:
        q = q.where(tuple_(StockLocation.priority, StockLocation.id) > after)
    else:
        q = q.offset(offset)
    if is_active is not None:
        q = q.where(StockLocation.is_active.is_(is_active))
    return list((await session.execute(q)).scalars())


async def location_in_use(session: AsyncSession, location_id: uuid.UUID) -> bool:
    used = select(literal(1)).where(
        exists().where(InventoryLevel.location_id == location_id)
        | exists().where(LedgerEntry.location_id == location_id)
        | exists().where(ReservationLine.location_id == location_id))
    return (await session.execute(used)).first() is not None


async def delete_location(session: AsyncSession, location_id: uuid.UUID) -> None:
    await session.execute(delete(StockLocation).where(StockLocation.id == location_id))


# --------------------------------------------------------------------------- levels


async def ensure_level(session: AsyncSession, tenant_id: uuid.UUID, variant_id: uuid.UUID,
                       location_id: uuid.UUID) -> None:
    """Create the (variant, location) level at zero if it does not exist yet."""
    await session.execute(pg_insert(InventoryLevel)
                          .values(tenant_id=tenant_id, variant_id=variant_id, location_id=location_id)
                          .on_conflict_do_nothing(index_elements=["tenant_id", "variant_id", "location_id"]))


async def lock_levels(session: AsyncSession, variant_ids: Collection[uuid.UUID]
                      ) -> list[tuple[InventoryLevel, int, bool]]:
    """Lock every level of ``variant_ids`` in primary-key order (no deadlock between two callers
    locking overlapping sets), returning each with its location's priority and active flag.

    ``populate_existing`` makes sure values read before the lock are refreshed.
    """
    if not variant_ids:
        return []
    q = (select(InventoryLevel, StockLocation.priority, StockLocation.is_active)
         .join(StockLocation, and_(StockLocation.tenant_id == InventoryLevel.tenant_id,
                                   StockLocation.id == InventoryLevel.location_id))
         .where(InventoryLevel.variant_id.in_(list(variant_ids)))
         .order_by(InventoryLevel.id)
         .with_for_update(of=InventoryLevel)
         .execution_options(populate_existing=True))
    return [(r[0], r[1], r[2]) for r in (await session.execute(q)).all()]


_LEVEL_COLUMNS = (InventoryLevel.id, InventoryLevel.variant_id, InventoryLevel.location_id,
                  StockLocation.code.label("location_code"), StockLocation.is_active.label("location_active"),
                  InventoryLevel.on_hand, InventoryLevel.reserved, InventoryLevel.reorder_threshold,
                  InventoryLevel.last_restocked_at, InventoryLevel.updated_at, InventoryLevel.created_at)


def _levels_query() -> Any:
    threshold = func.coalesce(InventoryLevel.reorder_threshold, _default_threshold_sql())
    return (select(*_LEVEL_COLUMNS, threshold.label("effective_threshold"))
            .join(StockLocation, and_(StockLocation.tenant_id == InventoryLevel.tenant_id,
                                      StockLocation.id == InventoryLevel.location_id)))


async def level_rows(session: AsyncSession, *, level_ids: Sequence[uuid.UUID] | None = None,
                     variant_id: uuid.UUID | None = None) -> list[Any]:
    q = _levels_query().order_by(StockLocation.priority, StockLocation.id)
    if level_ids is not None:
        q = q.where(InventoryLevel.id.in_(list(level_ids)))
    if variant_id is not None:
        q = q.where(InventoryLevel.variant_id == variant_id)
    return list((await session.execute(q)).all())


async def list_levels(session: AsyncSession, *, limit: int, offset: int, after: tuple[datetime, uuid.UUID] | None,
                      variant_id: uuid.UUID | None, location_id: uuid.UUID | None, low_stock: bool | None
                      ) -> list[Any]:
    """One query per page whatever its size (location code and thresholds joined in)."""
    q = _levels_query().order_by(InventoryLevel.created_at, InventoryLevel.id).limit(limit + 1)
    if after is not None:
        q = q.where(tuple_(InventoryLevel.created_at, InventoryLevel.id) > after)
    else:
        q = q.offset(offset)
    if variant_id is not None:
        q = q.where(InventoryLevel.variant_id == variant_id)
    if location_id is not None:
        q = q.where(InventoryLevel.location_id == location_id)
    if low_stock is not None:
        threshold = func.coalesce(InventoryLevel.reorder_threshold, _default_threshold_sql())
        low = and_(threshold > 0, InventoryLevel.on_hand - InventoryLevel.reserved <= threshold)
        q = q.where(low if low_stock else ~low)
    return list((await session.execute(q)).all())


async def get_level(session: AsyncSession, level_id: uuid.UUID) -> InventoryLevel | None:
    return (await session.execute(select(InventoryLevel).where(InventoryLevel.id == level_id)
                                  .execution_options(populate_existing=True))).scalar_one_or_none()


def _availability_statement() -> Any:
    threshold = func.coalesce(InventoryLevel.reorder_threshold, _default_threshold_sql())
    return (select(InventoryLevel.variant_id,
                   func.sum(InventoryLevel.on_hand - InventoryLevel.reserved).label("available"),
                   func.sum(threshold).label("threshold"))
            .join(StockLocation, and_(StockLocation.tenant_id == InventoryLevel.tenant_id,
                                      StockLocation.id == InventoryLevel.location_id, StockLocation.is_active))
            .where(InventoryLevel.variant_id == any_(bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True)))))
            .group_by(InventoryLevel.variant_id))


#: Built once: every product page and cart line asks this, so it should cost neither statement
#: construction nor a new prepared statement per number of ids (``= ANY(:ids)``, not ``IN (…)``).
_AVAILABILITY = _availability_statement()


async def availability_rows(session: AsyncSession, variant_ids: Collection[uuid.UUID]) -> list[Any]:
    """Per variant: units available and the summed low-stock threshold over active locations. One query."""
    return list((await session.execute(_AVAILABILITY, {"ids": list(variant_ids)})).all())


# --------------------------------------------------------------------------- ledger


async def append_ledger(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    if entries:
        await session.execute(insert(LedgerEntry), entries)


async def append_ledger_returning(session: AsyncSession, entry: dict[str, Any]) -> LedgerEntry:
    return (await session.execute(insert(LedgerEntry).values(**entry).returning(LedgerEntry))).scalar_one()


async def list_ledger(session: AsyncSession, *, limit: int, offset: int, before_id: int | None,
                      variant_id: uuid.UUID | None, location_id: uuid.UUID | None, reason: str | None,
                      since: datetime | None, reservation_id: uuid.UUID | None = None) -> list[LedgerEntry]:
    q = select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit + 1)
    if before_id is not None:
        q = q.where(LedgerEntry.id < before_id)
    else:
        q = q.offset(offset)
    if variant_id is not None:
        q = q.where(LedgerEntry.variant_id == variant_id)
    if location_id is not None:
        q = q.where(LedgerEntry.location_id == location_id)
    if reason is not None:
        q = q.where(LedgerEntry.reason == reason)
    if since is not None:
        q = q.where(LedgerEntry.created_at >= since)
    if reservation_id is not None:
        q = q.where(LedgerEntry.reservation_id == reservation_id)
    return list((await session.execute(q)).scalars())


# --------------------------------------------------------------------------- reservations


async def insert_reservation(session: AsyncSession, tenant_id: uuid.UUID, *, reference: str | None,
                             expires_at: datetime) -> Reservation:
    stmt = insert(Reservation).values(tenant_id=tenant_id, reference=reference, expires_at=expires_at)
    return (await session.execute(stmt.returning(Reservation))).scalar_one()


async def insert_lines(session: AsyncSession, lines: list[dict[str, Any]]) -> None:
    if lines:
        await session.execute(insert(ReservationLine), lines)


async def get_reservation(session: AsyncSession, reservation_id: uuid.UUID, *, lock: bool = False,
                          skip_locked: bool = False) -> Reservation | None:
    q = select(Reservation).where(Reservation.id == reservation_id).execution_options(populate_existing=True)
    if lock:
        q = q.with_for_update(skip_locked=skip_locked)
    return (await session.execute(q)).scalar_one_or_none()


async def reservation_with_lines(session: AsyncSession,
                                 reservation_id: uuid.UUID) -> tuple[Reservation | None, list[ReservationLine]]:
    """A reservation and its lines (ordered as :func:`reservation_lines`) in one query (an outer join)."""
    rows = (await session.execute(_RESERVATION_WITH_LINES, {"rid": reservation_id})).all()
    if not rows:
        return None, []
    return rows[0][0], [line for _, line in rows if line is not None]


#: Built once (checkout and orders read reservations on every placement); values are bound.
_RESERVATION_WITH_LINES = (select(Reservation, ReservationLine)
                           .outerjoin(ReservationLine, ReservationLine.reservation_id == Reservation.id)
                           .where(Reservation.id == bindparam("rid"))
                           .order_by(ReservationLine.variant_id, ReservationLine.location_id.nulls_last())
                           .execution_options(populate_existing=True))


async def reservation_lines(session: AsyncSession, reservation_ids: Collection[uuid.UUID]) -> list[ReservationLine]:
    if not reservation_ids:
        return []
    q = (select(ReservationLine).where(ReservationLine.reservation_id.in_(list(reservation_ids)))
         .order_by(ReservationLine.reservation_id, ReservationLine.variant_id,
                   ReservationLine.location_id.nulls_last())
         .execution_options(populate_existing=True))
    return list((await session.execute(q)).scalars())


async def set_committed(session: AsyncSession, line_ids_committed: dict[uuid.UUID, int]) -> None:
    """Set ``quantity_committed`` of reservation lines (``{line_id: committed}``), one statement per line."""
    for line_id, committed in line_ids_committed.items():
        await session.execute(update(ReservationLine).where(ReservationLine.id == line_id)
                              .values(quantity_committed=committed))


async def set_reservation(session: AsyncSession, reservation_id: uuid.UUID, **values: Any) -> Reservation:
    stmt = (update(Reservation).where(Reservation.id == reservation_id)
            .values(**values, updated_at=func.now()).returning(Reservation)
            .execution_options(populate_existing=True))
    return (await session.execute(stmt)).scalar_one()


async def extend_active(session: AsyncSession, reservation_id: uuid.UUID, expires_at: datetime) -> Reservation | None:
    """Move an *active* reservation's expiry (one UPDATE, row-locked like ``get_reservation(lock=True)``);
    None when it is not active or does not exist."""
    return (await session.execute(_EXTEND_ACTIVE, {"rid": reservation_id, "new_expiry": expires_at})
            ).scalar_one_or_none()


_EXTEND_ACTIVE = (update(Reservation).where(Reservation.id == bindparam("rid"), Reservation.status == "active")
                  .values(expires_at=bindparam("new_expiry"), updated_at=func.now()).returning(Reservation)
                  .execution_options(populate_existing=True))


async def expired_reservations(session: AsyncSession, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant_id, reservation_id) of active reservations past expiry, across tenants.

    Runs as the worker role, whose only view of this table is the ``expiry_scan`` policy."""
    rows = await session.execute(
        text("SELECT tenant_id, id FROM inventory_reservations WHERE status = 'active' AND expires_at <= :now "
             "ORDER BY expires_at LIMIT :limit"), {"now": now, "limit": limit})
    return [(r[0], r[1]) for r in rows.all()]
