"""The demo loader makes orders in every state through the HTTP API (small count here)."""

from __future__ import annotations

from sqlalchemy import text

from mercato.checkout.demo import load_demo_orders


async def test_demo_orders_are_made_and_loading_again_is_a_no_op(app, db, tenant) -> None:  # type: ignore[no-untyped-def]
    made = await load_demo_orders(db, tenant.id, app=app, count=24)
    assert made == 24
    async with db.tenant_transaction(tenant.id) as s:
        statuses = dict((await s.execute(text("SELECT status, count(*) FROM orders GROUP BY status"))).all())
        products = (await s.execute(text("SELECT count(*) FROM products"))).scalar_one()
    assert sum(statuses.values()) == 24 and products == 4
    assert {"paid", "pending"} <= set(statuses) and len(statuses) >= 4, statuses
    assert await load_demo_orders(db, tenant.id, app=app, count=10) == 0
