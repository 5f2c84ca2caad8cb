"""Reservations: hold stock for a checkout, then commit (a sale), release (cancel) or expire it.

Never oversell: ``reserve`` locks every level of the requested variants in primary-key order
inside the caller's transaction, decides with the locked numbers, and writes; a concurrent
reservation of the same variants waits for the lock and then sees the new ``reserved``.
``0 <= reserved <= on_hand`` is also a CHECK constraint, so even a buggy path cannot commit
an oversold level. Backorders are the one exception, and only for variants that allow them:
the missing units are recorded on the reservation (``location_id`` NULL), not on a level.

Lock order everywhere: the reservation row first (commit / release / extend / expire), then
the levels in primary-key order. ``reserve`` locks no existing reservation, so no cycle exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, overload

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.catalog as catalog
from mercato.inventory import domain, repository, schemas
from mercato.inventory import events as ev
from mercato.inventory.domain import ReservationStatus
from mercato.inventory.errors import InsufficientStock, ReservationNotFound, VariantNotFound, VariantNotSellable
from mercato.inventory.models import Reservation, ReservationLine
from mercato.inventory.service.settings import get_settings
from mercato.inventory.service.stock import StockBook, tenant_of
from mercato.platform.errors import ValidationFailed
from mercato.platform.security import Principal


def _now() -> datetime:
    return datetime.now(UTC)


def _view(reservation: Reservation, lines: Iterable[ReservationLine]) -> schemas.Reservation:
    grouped: dict[uuid.UUID, schemas.ReservedVariant] = {}
    for line in lines:
        item = grouped.setdefault(line.variant_id, schemas.ReservedVariant(
            variant_id=line.variant_id, quantity=0, allocations=[]))
        item.quantity += line.quantity
        if line.location_id is None:
            item.backordered += line.quantity
            item.backorder_eta = line.backorder_eta
        else:
            item.allocations.append(schemas.Allocation(location_id=line.location_id, quantity=line.quantity,
                                                       committed=line.quantity_committed or 0))
    return schemas.Reservation(
        id=reservation.id, status=reservation.status, reference=reservation.reference,  # type: ignore[arg-type]
        expires_at=reservation.expires_at, committed_at=reservation.committed_at,
        released_at=reservation.released_at, release_reason=reservation.release_reason,
        created_at=reservation.created_at, lines=list(grouped.values()))


def _lines_data(view: schemas.Reservation) -> list[dict[str, Any]]:
    return [line.model_dump(mode="json") for line in view.lines]


async def reserve(session: AsyncSession, lines: Iterable[tuple[uuid.UUID, int]], *,
                  expires_in: int | timedelta | None = None, reference: str | None = None,
                  actor: Principal | None = None) -> schemas.Reservation:
    """Hold stock for ``lines`` ``[(variant_id, quantity), …]`` until ``expires_in`` (seconds or a
    timedelta; default: the shop's reservation TTL, 900 s). All or nothing.

    Raises ``VariantNotFound`` (404), ``VariantNotSellable`` (409), ``InsufficientStock`` (409,
    listing each short line ``{variant_id, requested, available}``).
    """
    tenant = tenant_of(session)
    try:
        demand = domain.sum_demand(lines)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="lines") from exc
    if not demand:
        raise ValidationFailed("a reservation needs at least one line", field="lines")
    refs = await catalog.get_variant_refs(session, list(demand))
    unknown = [v for v in demand if v not in refs]
    if unknown:
        raise VariantNotFound(unknown)
    unsellable = [v for v in demand if not refs[v].sellable]
    if unsellable:
        raise VariantNotSellable(unsellable)
    settings = await get_settings(session)

    book = await StockBook.lock(session, list(demand), default_threshold=settings.default_low_stock_threshold,
                                actor=actor)
    allocations, shortages = domain.allocate(demand, book.snapshots(),
                                             {v: refs[v].allow_backorder for v in demand})
    if shortages:
        raise InsufficientStock([{"variant_id": s.variant_id, "requested": s.requested, "available": s.available}
                                 for s in shortages])

    ttl = expires_in if expires_in is not None else settings.reservation_ttl_seconds
    expires_at = _now() + (ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl))
    reservation = await repository.insert_reservation(session, tenant, reference=reference, expires_at=expires_at)
    rows = [{"tenant_id": tenant, "reservation_id": reservation.id, "variant_id": a.variant_id,
             "location_id": a.location_id, "quantity": a.quantity,
             "backorder_eta": refs[a.variant_id].backorder_eta if a.backordered else None} for a in allocations]
    await repository.insert_lines(session, rows)
    for a in allocations:
        if a.level_id is not None:
            book.change(a.level_id, d_on_hand=0, d_reserved=a.quantity, reason="reservation",
                        reservation_id=reservation.id, reference=reference)
    await book.finish()
    view = _view(reservation, [ReservationLine(**r) for r in rows])
    await ev.reservation_event(session, ev.RESERVED, reservation.id, {
        "reference": reference, "expires_at": expires_at.isoformat(), "lines": _lines_data(view)})
    await book.publish_crossings()
    return view


async def get_reservation(session: AsyncSession, reservation_id: uuid.UUID) -> schemas.Reservation:
    reservation, lines = await repository.reservation_with_lines(session, reservation_id)
    if reservation is None:
        raise ReservationNotFound()
    return _view(reservation, lines)


async def _locked(session: AsyncSession, reservation_id: uuid.UUID) -> Reservation:
    reservation = await repository.get_reservation(session, reservation_id, lock=True)
    if reservation is None:
        raise ReservationNotFound()
    return reservation


async def _unhold(session: AsyncSession, reservation: Reservation, *, sell: bool, ledger_reason: str,
                  actor: Principal | None) -> tuple[list[ReservationLine], StockBook]:
    """Give back (or sell) every held unit of a locked reservation; one ledger row per level.
    Returns the lines and the book (whose crossings the caller publishes after its own event)."""
    lines = await repository.reservation_lines(session, [reservation.id])
    # Units a partial commit (a shipment) already sold are not held any more.
    held = [line for line in lines if line.location_id is not None and line.quantity > (line.quantity_committed or 0)]
    settings = await get_settings(session)
    book = await StockBook.lock(session, sorted({line.variant_id for line in held}),
                                default_threshold=settings.default_low_stock_threshold, actor=actor)
    for line in held:
        assert line.location_id is not None
        level = book.find(line.variant_id, line.location_id)
        if level is None:  # the variant was hard-deleted (its levels cascade): nothing left to give back
            continue
        units = line.quantity - (line.quantity_committed or 0)
        book.change(level.id, d_on_hand=-units if sell else 0, d_reserved=-units,
                    reason=ledger_reason, reservation_id=reservation.id, reference=reservation.reference)
    await book.finish()
    if sell and held:
        await repository.set_committed(session, {line.id: line.quantity for line in held})
    return lines, book


async def commit(session: AsyncSession, reservation_id: uuid.UUID, *,
                 actor: Principal | None = None) -> schemas.Reservation:
    """Turn held stock into a sale: ``on_hand -= qty`` and ``reserved -= qty`` per level (ledger reason
    ``sale``). Backordered units are not in stock; they stay recorded on the reservation."""
    reservation = await _locked(session, reservation_id)
    domain.check_transition(reservation.status, ReservationStatus.COMMITTED)
    lines, book = await _unhold(session, reservation, sell=True, ledger_reason="sale", actor=actor)
    reservation = await repository.set_reservation(session, reservation_id, status=ReservationStatus.COMMITTED.value,
                                                   committed_at=_now())
    view = _view(reservation, lines)
    await ev.reservation_event(session, ev.COMMITTED, reservation_id, {
        "reference": reservation.reference, "lines": _lines_data(view)})
    await book.publish_crossings()
    return view


async def commit_lines(session: AsyncSession, reservation_id: uuid.UUID | None,
                       shipped: Iterable[tuple[uuid.UUID, uuid.UUID, int]], *, reference: str | None = None,
                       actor: Principal | None = None) -> schemas.Reservation | None:
    """Sell exactly ``shipped`` ``[(variant_id, location_id, quantity)]`` units of a reservation (one
    shipment): ``on_hand -= qty`` and ``reserved -= qty`` at that location (ledger reason ``sale``).

    Units held at another location are released there (ledger ``release``) and sold from the
    shipping location's free stock instead; so are backordered units and units beyond the
    reservation (or all units when ``reservation_id`` is None or no longer active). Free stock
    must be available there, else :class:`InsufficientStock` (409) and nothing changes.
    The reservation becomes ``committed`` once none of its units is held any more.
    Lock order as everywhere: the reservation row, then the levels in primary-key order."""
    shipped = [(v, loc, q) for v, loc, q in shipped]
    if not shipped or any(q <= 0 for _, _, q in shipped):
        raise ValidationFailed("a partial commit needs positive quantities", field="lines")
    reservation = await _locked(session, reservation_id) if reservation_id is not None else None
    lines: list[ReservationLine] = []
    if reservation is not None and reservation.status == ReservationStatus.ACTIVE:
        lines = await repository.reservation_lines(session, [reservation.id])
    held = [domain.HeldLine(line.id, line.variant_id, line.location_id, line.quantity - (line.quantity_committed or 0))
            for line in lines]
    steps = domain.plan_partial_commit(held, shipped)
    settings = await get_settings(session)
    book = await StockBook.lock(session, sorted({v for v, _, _ in shipped}),
                                default_threshold=settings.default_low_stock_threshold, actor=actor)
    ref = reference or (reservation.reference if reservation is not None else None)
    res_id = reservation.id if reservation is not None else None
    committed = {line.id: line.quantity_committed or 0 for line in lines}
    shortages: dict[tuple[uuid.UUID, uuid.UUID | None], int] = {}
    for step in steps:
        if step.line_id is not None:
            committed[step.line_id] += step.quantity
        if step.kind == "consume_backorder":
            continue
        level = book.find(step.variant_id, step.location_id) if step.location_id is not None else None
        if step.kind == "sell_free":
            if level is None or level.on_hand - level.reserved < step.quantity or not book.active[level.id]:
                key = (step.variant_id, step.location_id)
                shortages[key] = shortages.get(key, 0) + step.quantity
                continue
            book.change(level.id, d_on_hand=-step.quantity, d_reserved=0, reason="sale", reservation_id=res_id,
                        reference=ref)
        elif level is not None:  # sell_held / release_held (a hard-deleted variant has no level left)
            sell = step.kind == "sell_held"
            book.change(level.id, d_on_hand=-step.quantity if sell else 0, d_reserved=-step.quantity,
                        reason="sale" if sell else "release", reservation_id=res_id, reference=ref)
    if shortages:
        raise InsufficientStock([{"variant_id": v, "requested": q,
                                  "available": max(0, (lv.on_hand - lv.reserved)
                                                   if loc is not None and (lv := book.find(v, loc)) else 0)}
                                 for (v, loc), q in shortages.items()], location_id=str(shipped[0][1]))
    await book.finish()
    if reservation is None or reservation.status != ReservationStatus.ACTIVE:
        await book.publish_crossings()
        return None
    before = {line.id: line.quantity_committed or 0 for line in lines}
    await repository.set_committed(session, {k: v for k, v in committed.items() if v != before[k]})
    still_held = any(line.location_id is not None and committed[line.id] < line.quantity for line in lines)
    if not still_held:
        reservation = await repository.set_reservation(session, reservation.id,
                                                       status=ReservationStatus.COMMITTED.value, committed_at=_now())
    fresh = await repository.reservation_lines(session, [reservation.id])
    view = _view(reservation, fresh)
    await ev.reservation_event(session, ev.COMMITTED, reservation.id, {
        "reference": reservation.reference, "partial": still_held,
        "shipped": [{"variant_id": str(v), "location_id": str(loc), "quantity": q} for v, loc, q in shipped],
        "lines": _lines_data(view)})
    await book.publish_crossings()
    return view


async def _release(session: AsyncSession, reservation: Reservation, *, target: ReservationStatus, reason: str,
                   actor: Principal | None) -> schemas.Reservation:
    domain.check_transition(reservation.status, target)
    ledger_reason = "expiry" if target == ReservationStatus.EXPIRED else "release"
    lines, book = await _unhold(session, reservation, sell=False, ledger_reason=ledger_reason, actor=actor)
    reservation = await repository.set_reservation(session, reservation.id, status=target.value,
                                                   released_at=_now(), release_reason=reason)
    view = _view(reservation, lines)
    await ev.reservation_event(session, ev.RELEASED, reservation.id, {
        "reference": reservation.reference, "status": target.value, "reason": reason, "lines": _lines_data(view)})
    await book.publish_crossings()
    return view


async def release(session: AsyncSession, reservation_id: uuid.UUID, reason: str = "cancelled", *,
                  actor: Principal | None = None) -> schemas.Reservation:
    """Cancel a reservation: ``reserved -= qty`` per level (ledger reason ``release``)."""
    reservation = await _locked(session, reservation_id)
    return await _release(session, reservation, target=ReservationStatus.RELEASED, reason=reason, actor=actor)


@overload
async def extend(session: AsyncSession, reservation_id: uuid.UUID, expires_in: int | timedelta | None = None, *,
                 actor: Principal | None = None, if_active: Literal[False] = False,
                 with_lines: bool = True) -> schemas.Reservation: ...


@overload
async def extend(session: AsyncSession, reservation_id: uuid.UUID, expires_in: int | timedelta | None = None, *,
                 actor: Principal | None = None, if_active: Literal[True],
                 with_lines: bool = True) -> schemas.Reservation | None: ...


async def extend(session: AsyncSession, reservation_id: uuid.UUID, expires_in: int | timedelta | None = None, *,
                 actor: Principal | None = None, if_active: bool = False,
                 with_lines: bool = True) -> schemas.Reservation | None:
    """Renew an active reservation: it now expires ``expires_in`` from now (default: the shop's TTL).

    An active reservation past its expiry that the job has not released yet still holds its stock,
    so it can be extended (or committed) safely.

    ``if_active``: renew it only if it is active, in one conditional UPDATE (which takes the same row
    lock ``_locked`` would), and return None — changing nothing — when it is not (or does not exist)
    instead of raising. ``with_lines=False``: the caller only renews the hold and does not read the
    view's lines (they are left empty; one query less)."""
    if if_active:
        if expires_in is None:
            expires_in = (await get_settings(session)).reservation_ttl_seconds
        delta = expires_in if isinstance(expires_in, timedelta) else timedelta(seconds=expires_in)
        renewed = await repository.extend_active(session, reservation_id, _now() + delta)
        if renewed is None:
            return None
        return _view(renewed, await repository.reservation_lines(session, [reservation_id]) if with_lines else [])
    reservation = await _locked(session, reservation_id)
    domain.check_extendable(reservation.status)
    if expires_in is None:
        expires_in = (await get_settings(session)).reservation_ttl_seconds
    delta = expires_in if isinstance(expires_in, timedelta) else timedelta(seconds=expires_in)
    reservation = await repository.set_reservation(session, reservation_id, expires_at=_now() + delta)
    return _view(reservation, await repository.reservation_lines(session, [reservation_id]) if with_lines else [])


async def expire(session: AsyncSession, reservation_id: uuid.UUID, *, now: datetime | None = None) -> bool:
    """Release a reservation whose hold has run out (the expiry job). Returns False, doing nothing, if it is
    no longer active or no longer expired (committed or extended meanwhile) or is locked by a checkout
    right now (``SKIP LOCKED``: the job never waits behind a customer; it will see it next time)."""
    reservation = await repository.get_reservation(session, reservation_id, lock=True, skip_locked=True)
    if reservation is None or reservation.status != ReservationStatus.ACTIVE:
        return False
    if reservation.expires_at > (now or _now()):
        return False
    await _release(session, reservation, target=ReservationStatus.EXPIRED, reason="expired", actor=None)
    return True
