"""The locked stock of one unit of work: every write to inventory levels goes through here.

:class:`StockBook` locks all levels of the variants involved in primary-key order
(``SELECT … FOR UPDATE ORDER BY id``: two transactions locking overlapping sets acquire
them in the same order, so they queue instead of deadlocking), applies changes in memory,
then writes the levels, one ledger row per change, and the events of any threshold crossing
— all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.inventory import domain, repository
from mercato.inventory import events as ev
from mercato.inventory.models import InventoryLevel, LedgerEntry
from mercato.platform.db import require_tenant as tenant_of
from mercato.platform.security import Principal


def actor_of(session: AsyncSession, actor: Principal | None) -> tuple[str, uuid.UUID | None]:
    if actor is None:
        request = session.info.get("request")
        actor = getattr(getattr(request, "state", None), "principal", None) if request is not None else None
    if actor is None:
        return "system", None
    return actor.kind, actor.actor_id


@dataclass
class _Before:
    on_hand: int
    reserved: int
    threshold: int


class StockBook:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, default_threshold: int,
                 rows: list[tuple[InventoryLevel, int, bool]], actor: tuple[str, uuid.UUID | None]) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.default_threshold = default_threshold
        self.actor = actor
        self.levels: dict[uuid.UUID, InventoryLevel] = {}
        self.priority: dict[uuid.UUID, int] = {}
        self.active: dict[uuid.UUID, bool] = {}
        self.before: dict[uuid.UUID, _Before] = {}
        for level, priority, active in rows:
            self.levels[level.id] = level
            self.priority[level.id] = priority
            self.active[level.id] = active
            self.before[level.id] = _Before(level.on_hand, level.reserved, self.threshold(level))
        self.entries: list[dict[str, Any]] = []
        self.touched: list[uuid.UUID] = []

    @classmethod
    async def lock(cls, session: AsyncSession, variant_ids: Collection[uuid.UUID], *, default_threshold: int,
                   actor: Principal | None = None) -> StockBook:
        rows = await repository.lock_levels(session, variant_ids)
        return cls(session, tenant_of(session), default_threshold, rows, actor_of(session, actor))

    # -- reading

    def threshold(self, level: InventoryLevel) -> int:
        return level.reorder_threshold if level.reorder_threshold is not None else self.default_threshold

    def find(self, variant_id: uuid.UUID, location_id: uuid.UUID) -> InventoryLevel | None:
        return next((lv for lv in self.levels.values()
                     if lv.variant_id == variant_id and lv.location_id == location_id), None)

    def snapshots(self) -> list[domain.LevelSnapshot]:
        return [domain.LevelSnapshot(level_id=lv.id, variant_id=lv.variant_id, location_id=lv.location_id,
                                     priority=self.priority[lv.id], on_hand=lv.on_hand, reserved=lv.reserved,
                                     location_active=self.active[lv.id]) for lv in self.levels.values()]

    # -- writing

    def change(self, level_id: uuid.UUID, *, d_on_hand: int, d_reserved: int, reason: str,
               reservation_id: uuid.UUID | None = None, reference: str | None = None, note: str | None = None) -> None:
        level = self.levels[level_id]
        level.on_hand += d_on_hand
        level.reserved += d_reserved
        level.updated_at = datetime.now(UTC)
        # The same rule the CHECK constraint enforces, failing early with a clear message.
        if not 0 <= level.reserved <= level.on_hand:
            raise AssertionError(f"stock invariant broken on level {level_id}: "
                                 f"on_hand={level.on_hand} reserved={level.reserved}")
        self.entries.append({
            "tenant_id": self.tenant_id, "variant_id": level.variant_id, "location_id": level.location_id,
            "reason": reason, "delta_on_hand": d_on_hand, "delta_reserved": d_reserved,
            "on_hand_after": level.on_hand, "reserved_after": level.reserved, "reservation_id": reservation_id,
            "reference": reference, "note": note, "actor_type": self.actor[0], "actor_id": self.actor[1],
        })
        if level_id not in self.touched:
            self.touched.append(level_id)

    def touch(self, level_id: uuid.UUID) -> None:
        """A change without a stock movement (e.g. a new threshold) that may still cross low stock."""
        self.levels[level_id].updated_at = datetime.now(UTC)
        if level_id not in self.touched:
            self.touched.append(level_id)

    async def finish(self) -> list[LedgerEntry]:
        """Write levels (flush) and ledger rows; returns the ledger row written by a single change.

        Call :meth:`publish_crossings` afterwards, once the use case has published its own event,
        so that subscribers see "adjusted" before the "low_stock" it caused."""
        await self.session.flush()
        written: list[LedgerEntry] = []
        if len(self.entries) == 1:  # an adjustment: the caller shows the entry
            written = [await repository.append_ledger_returning(self.session, self.entries[0])]
        else:  # reservations: one multi-row insert, nothing to show
            await repository.append_ledger(self.session, self.entries)
        self.entries = []
        return written

    async def publish_crossings(self) -> None:
        """Publish low-stock (per level), out-of-stock and back-in-stock (per variant) crossings."""
        variants: list[uuid.UUID] = []
        for level_id in self.touched:
            level = self.levels[level_id]
            if level.variant_id not in variants:
                variants.append(level.variant_id)
            before = self.before[level_id]
            if self.active[level_id] and domain.crossed_low(before.on_hand - before.reserved,
                                                            level.on_hand - level.reserved,
                                                            before.threshold, self.threshold(level)):
                await ev.stock_event(self.session, ev.LOW_STOCK, level.variant_id, {
                    "location_id": str(level.location_id), "level_id": str(level.id),
                    "available": level.on_hand - level.reserved, "threshold": self.threshold(level)})
        for variant_id in variants:
            ids = [i for i, lv in self.levels.items() if lv.variant_id == variant_id and self.active[i]]
            total_before = sum(self.before[i].on_hand - self.before[i].reserved for i in ids)
            total_after = sum(self.levels[i].on_hand - self.levels[i].reserved for i in ids)
            if domain.crossed_out(total_before, total_after):
                await ev.stock_event(self.session, ev.OUT_OF_STOCK, variant_id, {"available": total_after})
            elif domain.crossed_back_in(total_before, total_after):
                await ev.stock_event(self.session, ev.BACK_IN_STOCK, variant_id, {"available": total_after})
        # A second finish() in the same unit of work compares against what was just written.
        for level_id in self.touched:
            lv = self.levels[level_id]
            self.before[level_id] = _Before(lv.on_hand, lv.reserved, self.threshold(lv))
        self.touched = []

