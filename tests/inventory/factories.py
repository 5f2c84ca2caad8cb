"""Small async factories for inventory tests.

Catalog rows are inserted with SQL in a tenant transaction (the catalog API is built in
parallel); inventory rows go through the inventory service, like production code.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import text

from mercato.inventory import schemas, service
from mercato.platform.db import Database


async def make_variant(db: Database, tenant_id: uuid.UUID, *, allow_backorder: bool = False,
                       backorder_eta: date | None = None, status: str = "active",
                       product_status: str = "active") -> uuid.UUID:
    suffix = uuid.uuid4().hex[:10]
    async with db.tenant_transaction(tenant_id) as s:
        product_id = (await s.execute(text(
            "INSERT INTO products (tenant_id, name, slug, status) VALUES (:t, :n, :s, :st) RETURNING id"),
            {"t": tenant_id, "n": f"Product {suffix}", "s": f"p-{suffix}", "st": product_status})).scalar_one()
        return (await s.execute(text(
            "INSERT INTO variants (tenant_id, product_id, sku, price_cents, currency, allow_backorder, backorder_eta,"
            " status) VALUES (:t, :p, :sku, 1000, 'EUR', :ab, :eta, :st) RETURNING id"),
            {"t": tenant_id, "p": product_id, "sku": f"SKU-{suffix}", "ab": allow_backorder, "eta": backorder_eta,
             "st": status})).scalar_one()


async def make_location(db: Database, tenant_id: uuid.UUID, *, priority: int = 0, is_active: bool = True,
                        code: str | None = None) -> uuid.UUID:
    async with db.tenant_transaction(tenant_id) as s:
        loc = await service.create_location(s, schemas.StockLocationCreate(
            name=f"Warehouse {priority}", code=code or f"WH-{uuid.uuid4().hex[:8]}", priority=priority,
            is_active=is_active, address=schemas.Address(line1="1 Main St", city="Berlin", postal_code="10115",
                                                         country="DE")))
        return loc.id


async def stock(db: Database, tenant_id: uuid.UUID, variant_id: uuid.UUID, location_id: uuid.UUID, quantity: int,
                reason: str = "received") -> schemas.AdjustmentResult:
    async with db.tenant_transaction(tenant_id) as s:
        return await service.adjust(s, schemas.AdjustmentCreate(
            variant_id=variant_id, location_id=location_id, delta=quantity, reason=reason))  # type: ignore[arg-type]


async def stocked_variant(db: Database, tenant_id: uuid.UUID, quantity: int, **variant_kw: object
                          ) -> tuple[uuid.UUID, uuid.UUID]:
    """A variant with ``quantity`` units at a fresh location: ``(variant_id, location_id)``."""
    variant_id = await make_variant(db, tenant_id, **variant_kw)  # type: ignore[arg-type]
    location_id = await make_location(db, tenant_id)
    if quantity:
        await stock(db, tenant_id, variant_id, location_id, quantity)
    return variant_id, location_id


async def level(db: Database, tenant_id: uuid.UUID, variant_id: uuid.UUID) -> dict[uuid.UUID, tuple[int, int]]:
    """``{location_id: (on_hand, reserved)}`` for a variant."""
    async with db.tenant_transaction(tenant_id) as s:
        rows = (await s.execute(text("SELECT location_id, on_hand, reserved FROM inventory_levels "
                                     "WHERE variant_id = :v"), {"v": variant_id})).all()
    return {r[0]: (r[1], r[2]) for r in rows}


async def ledger_mismatches(db: Database, tenant_id: uuid.UUID) -> list[tuple[object, ...]]:
    """Levels whose on_hand / reserved differ from the sum of their ledger deltas (should be none)."""
    async with db.tenant_transaction(tenant_id) as s:
        return list((await s.execute(text("""
            SELECT l.id, l.on_hand, l.reserved, COALESCE(sum(e.delta_on_hand), 0), COALESCE(sum(e.delta_reserved), 0)
            FROM inventory_levels l
            LEFT JOIN inventory_ledger e ON e.variant_id = l.variant_id AND e.location_id = l.location_id
            GROUP BY l.id, l.on_hand, l.reserved
            HAVING l.on_hand <> COALESCE(sum(e.delta_on_hand), 0) OR l.reserved <> COALESCE(sum(e.delta_reserved), 0)
        """))).all())


async def outbox(worker_db: Database, tenant_id: uuid.UUID, prefix: str = "inventory.") -> list[tuple[str, dict]]:
    """``(type, data)`` of the tenant's events, oldest first (read as the worker role: the runtime role cannot)."""
    async with worker_db.transaction() as s:
        rows = (await s.execute(text("SELECT type, data FROM outbox WHERE tenant_id = :t AND type LIKE :p ORDER BY id"),
                                {"t": tenant_id, "p": prefix + "%"})).all()
    return [(r[0], r[1]) for r in rows]
