"""Reservations on real PostgreSQL: never oversell under real concurrency, no deadlocks,
allocation across locations, backorders, commit / release / extend, expiry, events."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

import mercato.inventory as inventory
from mercato.inventory import InsufficientStock, VariantNotFound, VariantNotSellable
from mercato.platform.db import Database
from mercato.platform.errors import IllegalTransition, MercatoError

from .factories import ledger_mismatches, level, make_location, make_variant, outbox, stock, stocked_variant


@pytest.fixture
async def pools(db_urls):  # type: ignore[no-untyped-def]
    """Two independent engines (as two server processes would have), each with room for real parallelism."""
    a = Database(db_urls.runtime, pool_size=10, max_overflow=5, application_name="inventory-test-a")
    b = Database(db_urls.runtime, pool_size=10, max_overflow=5, application_name="inventory-test-b")
    yield a, b
    await a.dispose()
    await b.dispose()


BACKENDS: set[int] = set()


async def _attempt(db: Database, tenant_id: uuid.UUID, lines: list[tuple[uuid.UUID, int]]) -> str:
    try:
        async with db.tenant_transaction(tenant_id) as s:
            BACKENDS.add((await s.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            await inventory.reserve(s, lines, reference="race")
            # hold the locks a moment so that the others really queue behind this transaction
            await s.execute(text("SELECT pg_sleep(0.002)"))
        return "ok"
    except InsufficientStock as exc:
        assert exc.code == "insufficient_stock" and exc.status == 409
        assert exc.extra["lines"][0]["requested"] == lines[0][1]
        return "insufficient_stock"


@pytest.mark.slow
async def test_50_concurrent_reservations_for_10_units_sell_exactly_10(db, tenant, pools, worker_db) -> None:
    variant, location = await stocked_variant(db, tenant.id, 10)
    a, b = pools
    BACKENDS.clear()
    results = await asyncio.gather(*[_attempt(a if i % 2 else b, tenant.id, [(variant, 1)]) for i in range(50)])
    assert len(BACKENDS) >= 10  # really in parallel: many server connections at once
    assert results.count("ok") == 10
    assert results.count("insufficient_stock") == 40
    assert await level(db, tenant.id, variant) == {location: (10, 10)}
    assert await ledger_mismatches(db, tenant.id) == []
    async with db.tenant_transaction(tenant.id) as s:
        n, total = (await s.execute(text("SELECT count(*), sum(delta_reserved) FROM inventory_ledger "
                                         "WHERE variant_id = :v AND reason = 'reservation'"), {"v": variant})).one()
    assert (n, total) == (10, 10)
    types = [t for t, _ in await outbox(worker_db, tenant.id)]
    assert types.count("inventory.reserved") == 10
    assert types.count("inventory.out_of_stock") == 1


@pytest.mark.slow
async def test_concurrent_multi_variant_reservations_in_opposite_orders_do_not_deadlock(db, tenant, pools) -> None:
    x, loc = await stocked_variant(db, tenant.id, 100)
    y = await make_variant(db, tenant.id)
    await stock(db, tenant.id, y, loc, 100)
    second = await make_location(db, tenant.id, priority=5)
    await stock(db, tenant.id, y, second, 5)  # y has two levels: more rows to lock
    a, b = pools
    jobs = [_attempt(a if i % 2 else b, tenant.id, [(x, 1), (y, 2)] if i % 2 else [(y, 2), (x, 1)])
            for i in range(40)]
    results = await asyncio.wait_for(asyncio.gather(*jobs), timeout=60)
    assert results == ["ok"] * 40
    assert (await level(db, tenant.id, x))[loc] == (100, 40)
    assert (await level(db, tenant.id, y))[loc] == (100, 80)
    assert await ledger_mismatches(db, tenant.id) == []


async def test_demand_is_summed_and_split_across_locations_by_priority(db, tenant) -> None:
    variant = await make_variant(db, tenant.id)
    far = await make_location(db, tenant.id, priority=10)
    near = await make_location(db, tenant.id, priority=1)
    closed = await make_location(db, tenant.id, priority=0, is_active=False)
    await stock(db, tenant.id, variant, far, 5)
    await stock(db, tenant.id, variant, near, 3)
    await stock(db, tenant.id, variant, closed, 50)
    async with db.tenant_transaction(tenant.id) as s:
        r = await inventory.reserve(s, [(variant, 4), (variant, 3)], expires_in=60, reference="cart-1")
    assert r.status == "active" and r.reference == "cart-1"
    assert len(r.lines) == 1 and r.lines[0].quantity == 7 and r.lines[0].backordered == 0
    assert [(a.location_id, a.quantity) for a in r.lines[0].allocations] == [(near, 3), (far, 4)]
    assert await level(db, tenant.id, variant) == {near: (3, 3), far: (5, 4), closed: (50, 0)}
    # 1 unit left in active locations: the inactive one's 50 do not count
    with pytest.raises(InsufficientStock) as err:
        async with db.tenant_transaction(tenant.id) as s:
            await inventory.reserve(s, [(variant, 2)])
    assert err.value.extra["lines"] == [{"variant_id": str(variant), "requested": 2, "available": 1}]


async def test_a_location_that_can_hold_the_whole_line_beats_a_split(db, tenant) -> None:
    variant = await make_variant(db, tenant.id)
    near = await make_location(db, tenant.id, priority=1)
    far = await make_location(db, tenant.id, priority=2)
    await stock(db, tenant.id, variant, near, 2)
    await stock(db, tenant.id, variant, far, 10)
    async with db.tenant_transaction(tenant.id) as s:
        r = await inventory.reserve(s, [(variant, 5)])
    assert [(a.location_id, a.quantity) for a in r.lines[0].allocations] == [(far, 5)]


async def test_backorder_only_where_the_variant_allows_it(db, tenant, worker_db) -> None:
    eta = date(2030, 1, 15)
    variant, location = await stocked_variant(db, tenant.id, 2, allow_backorder=True, backorder_eta=eta)
    plain, _ = await stocked_variant(db, tenant.id, 2)
    async with db.tenant_transaction(tenant.id) as s:
        r = await inventory.reserve(s, [(variant, 5)])
    line = r.lines[0]
    assert (line.quantity, line.backordered, line.backorder_eta) == (5, 3, eta)
    assert [(a.location_id, a.quantity) for a in line.allocations] == [(location, 2)]
    assert await level(db, tenant.id, variant) == {location: (2, 2)}  # backordered units touch no level
    with pytest.raises(InsufficientStock):
        async with db.tenant_transaction(tenant.id) as s:
            await inventory.reserve(s, [(plain, 3)])
    async with db.tenant_transaction(tenant.id) as s:
        avail = await inventory.availability(s, [variant, plain])
        committed = await inventory.commit(s, r.id)
    assert avail[variant] == {"available": 0, "status": "backorder", "backorder_eta": eta}
    assert avail[plain]["status"] == "low_stock"
    assert committed.status == "committed" and committed.lines[0].backordered == 3
    assert await level(db, tenant.id, variant) == {location: (0, 0)}


async def test_unknown_and_unsellable_variants_are_clear_problems(db, tenant) -> None:
    inactive = await make_variant(db, tenant.id, status="inactive")
    draft = await make_variant(db, tenant.id, product_status="draft")
    unknown = uuid.uuid4()
    with pytest.raises(VariantNotFound) as nf:
        async with db.tenant_transaction(tenant.id) as s:
            await inventory.reserve(s, [(inactive, 1), (unknown, 1)])
    assert nf.value.status == 404 and nf.value.extra["variant_ids"] == [str(unknown)]
    with pytest.raises(VariantNotSellable) as ns:
        async with db.tenant_transaction(tenant.id) as s:
            await inventory.reserve(s, [(inactive, 1), (draft, 1)])
    assert ns.value.status == 409 and set(ns.value.extra["variant_ids"]) == {str(inactive), str(draft)}
    with pytest.raises(MercatoError) as bad:
        async with db.tenant_transaction(tenant.id) as s:
            await inventory.reserve(s, [(inactive, 0)])
    assert bad.value.status == 422


async def test_commit_sells_release_gives_back_and_terminal_states_are_final(db, tenant, worker_db) -> None:
    variant, location = await stocked_variant(db, tenant.id, 10)
    async with db.tenant_transaction(tenant.id) as s:
        sold = await inventory.reserve(s, [(variant, 3)], reference="order-1")
        kept = await inventory.reserve(s, [(variant, 2)], reference="order-2")
    async with db.tenant_transaction(tenant.id) as s:
        assert (await inventory.commit(s, sold.id)).status == "committed"
    assert await level(db, tenant.id, variant) == {location: (7, 2)}
    async with db.tenant_transaction(tenant.id) as s:
        released = await inventory.release(s, kept.id, "payment_failed")
    assert (released.status, released.release_reason) == ("released", "payment_failed")
    assert await level(db, tenant.id, variant) == {location: (7, 0)}
    for action in (lambda s: inventory.commit(s, sold.id), lambda s: inventory.release(s, sold.id),
                   lambda s: inventory.extend(s, kept.id, 60), lambda s: inventory.commit(s, kept.id)):
        with pytest.raises(IllegalTransition) as err:
            async with db.tenant_transaction(tenant.id) as s:
                await action(s)
        assert err.value.status == 409
    assert await ledger_mismatches(db, tenant.id) == []
    async with db.tenant_transaction(tenant.id) as s:
        reasons = (await s.execute(text("SELECT reason, delta_on_hand, delta_reserved FROM inventory_ledger "
                                        "WHERE variant_id = :v ORDER BY id"), {"v": variant})).all()
    assert [tuple(r) for r in reasons] == [("received", 10, 0), ("reservation", 0, 3), ("reservation", 0, 2),
                                           ("sale", -3, -3), ("release", 0, -2)]
    types = [t for t, _ in await outbox(worker_db, tenant.id)]
    # first stock ever: 0 → 10 available is a back-in-stock crossing; 5 left after the 2nd hold is low stock
    assert types == ["inventory.adjusted", "inventory.back_in_stock", "inventory.reserved", "inventory.reserved",
                     "inventory.low_stock", "inventory.committed", "inventory.released"]


async def test_extend_renews_an_active_reservation(db, tenant) -> None:
    variant, _ = await stocked_variant(db, tenant.id, 1)
    async with db.tenant_transaction(tenant.id) as s:
        r = await inventory.reserve(s, [(variant, 1)], expires_in=30)
    async with db.tenant_transaction(tenant.id) as s:
        extended = await inventory.extend(s, r.id, 3600)
    assert extended.expires_at > r.expires_at + timedelta(minutes=50)
    async with db.tenant_transaction(tenant.id) as s:
        default = await inventory.extend(s, r.id)  # the shop's TTL: 900 s
    assert timedelta(seconds=880) < default.expires_at - datetime.now(UTC) <= timedelta(seconds=900)


async def test_expiry_job_releases_expired_reservations_of_every_tenant(db, make_tenant, worker_db) -> None:
    t1, t2 = await make_tenant(), await make_tenant()
    v1, l1 = await stocked_variant(db, t1.id, 5)
    v2, l2 = await stocked_variant(db, t2.id, 5)
    async with db.tenant_transaction(t1.id) as s:
        gone = await inventory.reserve(s, [(v1, 2)], expires_in=60)
        fresh = await inventory.reserve(s, [(v1, 1)], expires_in=3600)
        paid = await inventory.reserve(s, [(v1, 1)], expires_in=60)
        await inventory.commit(s, paid.id)
    async with db.tenant_transaction(t2.id) as s:
        gone2 = await inventory.reserve(s, [(v2, 5)], expires_in=60)
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert await inventory.release_expired(db, worker_db, now=later) >= 2  # other tests' leftovers may expire too
    async with db.tenant_transaction(t1.id) as s:
        assert (await inventory.get_reservation(s, gone.id)).status == "expired"
        assert (await inventory.get_reservation(s, fresh.id)).status == "active"
        assert (await inventory.get_reservation(s, paid.id)).status == "committed"
    async with db.tenant_transaction(t2.id) as s:
        assert (await inventory.get_reservation(s, gone2.id)).status == "expired"
    assert await level(db, t1.id, v1) == {l1: (4, 1)}
    assert await level(db, t2.id, v2) == {l2: (5, 0)}
    events2 = await outbox(worker_db, t2.id)
    assert [t for t, _ in events2][-2:] == ["inventory.released", "inventory.back_in_stock"]
    released = next(d for t, d in events2 if t == "inventory.released")
    assert (released["status"], released["reason"]) == ("expired", "expired")
    assert await ledger_mismatches(db, t1.id) == [] and await ledger_mismatches(db, t2.id) == []
    assert await inventory.release_expired(db, worker_db, now=later) == 0


async def test_low_stock_fires_once_per_crossing_and_out_back_in_stock_on_the_variant(db, tenant, worker_db) -> None:
    variant, location = await stocked_variant(db, tenant.id, 10)  # default threshold 5
    reservations = []
    for _ in range(7):  # 10 → 3 available: crosses 5 once
        async with db.tenant_transaction(tenant.id) as s:
            reservations.append(await inventory.reserve(s, [(variant, 1)]))
    events = await outbox(worker_db, tenant.id)
    low = [d for t, d in events if t == "inventory.low_stock"]
    assert len(low) == 1 and low[0]["available"] == 5 and low[0]["threshold"] == 5
    async with db.tenant_transaction(tenant.id) as s:
        for r in reservations[:4]:  # back to 7 available: above the threshold again
            await inventory.release(s, r.id)
    async with db.tenant_transaction(tenant.id) as s:
        await inventory.reserve(s, [(variant, 7)])  # 0 available: low again, and out of stock
    async with db.tenant_transaction(tenant.id) as s:
        for r in reservations[4:]:
            await inventory.commit(s, r.id)  # sales of held units do not change availability
    await stock(db, tenant.id, variant, location, 1)
    types = [t for t, _ in await outbox(worker_db, tenant.id)]
    assert types.count("inventory.low_stock") == 2
    assert types.count("inventory.out_of_stock") == 1
    assert types.count("inventory.back_in_stock") == 2  # the first stock ever, and the restock
    assert types.index("inventory.out_of_stock") < len(types) - 1 - types[::-1].index("inventory.back_in_stock")


async def test_availability_is_one_query_and_covers_every_status(db, tenant) -> None:
    plenty, _ = await stocked_variant(db, tenant.id, 50)
    low, _ = await stocked_variant(db, tenant.id, 3)
    out, _ = await stocked_variant(db, tenant.id, 0)
    nothing = uuid.uuid4()
    queries: list[str] = []
    async with db.tenant_transaction(tenant.id) as s:
        from sqlalchemy import event

        def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
            queries.append(statement)

        refs = await __import__("mercato.catalog", fromlist=["x"]).get_variant_refs(s, [plenty, low, out])
        sync_engine = db.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", count)
        try:
            result = await inventory.availability(s, [plenty, low, out, nothing], refs=refs)
        finally:
            event.remove(sync_engine, "before_cursor_execute", count)
    assert len(queries) == 1
    assert result[plenty] == {"available": 50, "status": "in_stock", "backorder_eta": None}
    assert result[low]["status"] == "low_stock"
    assert result[out]["status"] == "out_of_stock"
    assert result[nothing] == {"available": 0, "status": "out_of_stock", "backorder_eta": None}


async def test_rls_keeps_tenants_apart_in_the_service(db, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    variant, _ = await stocked_variant(db, a.id, 5)
    async with db.tenant_transaction(a.id) as s:
        r = await inventory.reserve(s, [(variant, 1)])
    with pytest.raises(VariantNotFound):
        async with db.tenant_transaction(b.id) as s:
            await inventory.reserve(s, [(variant, 1)])
    with pytest.raises(inventory.ReservationNotFound):
        async with db.tenant_transaction(b.id) as s:
            await inventory.commit(s, r.id)
    async with db.tenant_transaction(b.id) as s:
        assert (await inventory.availability(s, [variant]))[variant]["available"] == 0


async def test_the_ledger_is_append_only_and_the_worker_sees_only_reservations(db, tenant, worker_db) -> None:
    from sqlalchemy.exc import DBAPIError

    await stocked_variant(db, tenant.id, 3)
    for statement in ("UPDATE inventory_ledger SET delta_on_hand = 0", "DELETE FROM inventory_ledger"):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.tenant_transaction(tenant.id) as s:
                await s.execute(text(statement))
    with pytest.raises(DBAPIError, match="permission denied"):
        async with worker_db.transaction() as s:
            await s.execute(text("SELECT 1 FROM inventory_levels LIMIT 1"))
    with pytest.raises(DBAPIError, match="permission denied"):
        async with worker_db.transaction() as s:
            await s.execute(text("UPDATE inventory_reservations SET status = 'expired'"))
    with pytest.raises(DBAPIError):  # the CHECK constraint: reserved can never exceed on hand
        async with db.tenant_transaction(tenant.id) as s:
            await s.execute(text("UPDATE inventory_levels SET reserved = on_hand + 1"))
