"""Helpers of the returns tests: a shop with variants at several prices, delivered orders bought
through the HTTP API (customer and guest), stock levels, the ledger and outbox rows.

(Named ``returns_helpers``: test directories have no ``__init__``, names must be unique.)"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from checkout_helpers import complete, ready_checkout, shop_setup
from commerce_helpers import customer_headers
from sqlalchemy import text

API = "/api/v1"
CARD = "4242424242424242"


async def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def make_shop(client: httpx.AsyncClient, tenant: Any, *, stock: int = 10) -> dict[str, Any]:
    """A tee in sizes S and M (25.00), L (40.00) and XS (10.00); 8.5 % tax in CA, 5.00 shipping;
    stock at ``main``, and an empty ``returns`` bay to restock returned units at."""
    h = tenant.admin_headers
    sizes = {"S": 2500, "M": 2500, "L": 4000, "XS": 1000}
    product = await ok(await client.post(f"{API}/products", headers=h, json={
        "name": "Trail Tee", "status": "active", "weight_grams": 200,
        "options": [{"name": "Size", "values": list(sizes)}],
        "variants": [{"sku": f"TEE-{s}-{uuid.uuid4().hex[:6]}", "options": {"Size": s}, "price_cents": p,
                      "currency": "USD"} for s, p in sizes.items()]}), 201)
    variants = {v["options"]["Size"]: v["id"] for v in product["variants"]}
    main = await ok(await client.post(f"{API}/stock-locations", headers=h, json={"name": "Main", "code": "main"}), 201)
    bay = await ok(await client.post(f"{API}/stock-locations", headers=h,
                                     json={"name": "Returns bay", "code": "returns"}), 201)
    for vid in variants.values():
        await ok(await client.post(f"{API}/inventory/adjustments", headers=h, json={
            "variant_id": vid, "location_id": main["id"], "delta": stock, "reason": "received"}), 201)
    setup = await shop_setup(client, tenant)
    return {"variants": variants, "main": main["id"], "bay": bay["id"], "method_id": setup["method_id"]}


async def deliver(client: httpx.AsyncClient, tenant: Any, order_id: str) -> dict[str, Any]:
    for target in ("processing", "shipped", "delivered"):
        order = await ok(await client.post(f"{API}/orders/{order_id}/transitions", headers=tenant.admin_headers,
                                           json={"to": target}))
    return order


async def customer_order(client: httpx.AsyncClient, tenant: Any, shop: dict[str, Any],
                         lines: list[tuple[str, int]], *, customer: dict[str, Any] | None = None,
                         delivered: bool = True) -> dict[str, Any]:
    """A signed-in customer buys ``[(size, quantity)]`` with the test card; staff deliver it.
    Returns ``{"customer", "headers", "order"}`` (the staff view of the order)."""
    customer = customer or await customer_headers(client, tenant)
    h = customer["headers"]
    cart = await ok(await client.post(f"{API}/carts", headers=h), 201)
    for size, qty in lines:
        await ok(await client.post(f"{API}/carts/{cart['id']}/lines", headers=h,
                                   json={"variant_id": shop["variants"][size], "quantity": qty}))
    co = await ok(await client.post(f"{API}/checkouts", headers=h, json={"cart_id": cart["id"],
                                                                        "email": customer["email"]}), 201)
    from checkout_helpers import ADDRESS

    await ok(await client.put(f"{API}/checkouts/{co['id']}/shipping-address", headers=h, json=ADDRESS))
    await ok(await client.put(f"{API}/checkouts/{co['id']}/shipping-method", headers=h,
                              json={"method_id": shop["method_id"]}))
    await ok(await client.put(f"{API}/checkouts/{co['id']}/payment-method", headers=h, json={"method": "test"}))
    done = await ok(await client.post(f"{API}/checkouts/{co['id']}/complete",
                                      headers={**h, "Idempotency-Key": uuid.uuid4().hex}, json={"card_number": CARD}))
    assert done["order"]["status"] == "paid", done
    order_id = done["order"]["id"]
    order = await deliver(client, tenant, order_id) if delivered else await ok(
        await client.get(f"{API}/orders/{order_id}", headers=tenant.admin_headers))
    return {"customer": customer, "headers": h, "order": order}


async def guest_order(client: httpx.AsyncClient, tenant: Any, shop: dict[str, Any],
                      lines: list[tuple[str, int]], email: str = "Guest@Example.com") -> dict[str, Any]:
    co = await ready_checkout(client, tenant, [(uuid.UUID(shop["variants"][s]), q) for s, q in lines], email=email,
                              method_id=shop["method_id"], payment_method="test")
    done = await ok(await complete(client, co))
    return await deliver(client, tenant, done["order"]["id"])


def line_of(order: dict[str, Any], shop: dict[str, Any], size: str) -> dict[str, Any]:
    return next(x for x in order["lines"] if x["variant_id"] == shop["variants"][size])


async def on_hand(db: Any, tenant_id: uuid.UUID, variant_id: str, location_id: str) -> int:
    async with db.tenant_transaction(tenant_id) as s:
        value = (await s.execute(text("SELECT on_hand FROM inventory_levels WHERE variant_id = :v AND "
                                      "location_id = :l"), {"v": variant_id, "l": location_id})).scalar()
    return int(value or 0)


async def ledger(db: Any, tenant_id: uuid.UUID, variant_id: str) -> list[dict[str, Any]]:
    async with db.tenant_transaction(tenant_id) as s:
        rows = (await s.execute(text("SELECT * FROM inventory_ledger WHERE variant_id = :v ORDER BY id"),
                                {"v": variant_id})).mappings().all()
    return [dict(r) for r in rows]


async def outbox(worker_db: Any, tenant_id: uuid.UUID, prefix: str = "return.") -> list[dict[str, Any]]:
    async with worker_db.transaction() as s:
        rows = (await s.execute(text("SELECT type, data FROM outbox WHERE tenant_id = :t AND type LIKE :p "
                                     "ORDER BY id"), {"t": tenant_id, "p": prefix + "%"})).mappings().all()
    return [{"type": r["type"], "data": r["data"]} for r in rows]
