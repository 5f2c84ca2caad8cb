"""Best-selling sort: paid orders feed ``products.sales_count`` (``order.paid`` handler, once per
order), a cancelled paid order takes its units back; all through the HTTP API and the real relay."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from catalog_factories import create_product, product_payload
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "checkout"))
from checkout_helpers import API, complete, ready_checkout, shop_setup

from mercato.platform.events import Relay


async def _products(client: httpx.AsyncClient, tenant: Any, n: int) -> list[dict[str, Any]]:
    h = tenant.admin_headers
    r = await client.post(f"{API}/stock-locations", headers=h, json={"name": "Main", "code": f"m{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201, r.text
    location = r.json()["id"]
    out = []
    for i in range(n):
        p = await create_product(client, tenant, product_payload(f"Seller {i}", sizes=("S",), price=1000 + i))
        for v in p["variants"]:
            r = await client.post(f"{API}/inventory/adjustments", headers=h, json={
                "variant_id": v["id"], "location_id": location, "delta": 50, "reason": "received"})
            assert r.status_code == 201, r.text
        out.append(p)
    return out


async def _buy(client: httpx.AsyncClient, tenant: Any, method_id: str, lines: list[tuple[dict[str, Any], int]]) -> str:
    co = await ready_checkout(client, tenant, [(uuid.UUID(p["variants"][0]["id"]), q) for p, q in lines],
                              method_id=method_id, payment_method="test")
    r = await complete(client, co)
    assert r.status_code == 200 and r.json()["order"]["status"] == "paid", r.text
    return str(r.json()["order"]["id"])


async def _best_selling(client: httpx.AsyncClient, tenant: Any) -> list[str]:
    r = await client.get(f"{API}/products", params={"sort": "best_selling", "limit": 50},
                         headers=tenant.storefront_headers)
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["items"]]


async def _sales(db, tenant_id) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return {r.name: r.sales_count for r in await s.execute(text("SELECT name, sales_count FROM products"))}


async def test_paid_orders_rank_products_by_units_sold_and_cancellation_takes_them_back(
        client, db, worker_db, tenant) -> None:
    setup = await shop_setup(client, tenant)
    p0, p1, p2, p3 = await _products(client, tenant, 4)
    # Newest first before any sale (sales_count ties broken by id: just check the counts are 0).
    assert set((await _sales(db, tenant.id)).values()) == {0}

    await _buy(client, tenant, setup["method_id"], [(p1, 2), (p2, 1)])
    await _buy(client, tenant, setup["method_id"], [(p2, 3)])
    cancelled = await _buy(client, tenant, setup["method_id"], [(p3, 5), (p0, 1)])
    await Relay(worker_db, db).drain()
    assert await _sales(db, tenant.id) == {"Seller 0": 1, "Seller 1": 2, "Seller 2": 4, "Seller 3": 5}
    assert (await _best_selling(client, tenant))[:4] == ["Seller 3", "Seller 2", "Seller 1", "Seller 0"]

    # A redelivered order.paid counts nothing twice (dedup + the per-order ledger).
    async with worker_db.transaction() as s:
        await s.execute(text("UPDATE outbox SET published_at = NULL WHERE tenant_id = :t AND type = 'order.paid'"),
                        {"t": tenant.id})
    await Relay(worker_db, db).drain()
    assert await _sales(db, tenant.id) == {"Seller 0": 1, "Seller 1": 2, "Seller 2": 4, "Seller 3": 5}

    # Staff cancel a paid order: refunded by orders, its units leave the ranking (the cached page too).
    r = await client.post(f"{API}/orders/{cancelled}/cancel", headers=tenant.admin_headers,
                        json={"reason": "customer called"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    await Relay(worker_db, db).drain()
    assert await _sales(db, tenant.id) == {"Seller 0": 0, "Seller 1": 2, "Seller 2": 4, "Seller 3": 0}
    assert (await _best_selling(client, tenant))[:2] == ["Seller 2", "Seller 1"]


async def test_cancelling_an_unpaid_order_changes_no_count(client, db, worker_db, tenant) -> None:
    setup = await shop_setup(client, tenant)
    [p] = await _products(client, tenant, 1)
    await _buy(client, tenant, setup["method_id"], [(p, 2)])
    co = await ready_checkout(client, tenant, [(uuid.UUID(p["variants"][0]["id"]), 4)], method_id=setup["method_id"],
                              payment_method="manual")
    r = await complete(client, co, card=None)
    assert r.status_code == 200, r.text
    order = r.json()["order"]
    assert order["payment_status"] != "paid", order
    await Relay(worker_db, db).drain()
    assert await _sales(db, tenant.id) == {p["name"]: 2}
    r = await client.post(f"{API}/orders/{order['id']}/cancel", headers=tenant.admin_headers, json={"reason": "no"})
    assert r.status_code == 200, r.text
    await Relay(worker_db, db).drain()
    assert await _sales(db, tenant.id) == {p["name"]: 2}
