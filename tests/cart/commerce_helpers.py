"""Shared by the carts, promotions, taxes and shipping tests: routers, catalog rows, customers.

(Named ``commerce_helpers`` rather than ``factories``: test directories have no ``__init__``,
so two ``factories.py`` on sys.path would shadow each other.)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

API = "/api/v1"
MODULES = ("promotions", "taxes", "shipping", "cart")


def mount_commerce_routers(app: FastAPI) -> None:
    """Kept for the tests that call it: app.py includes the commerce routers now."""
    return None


async def commerce_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    mount_commerce_routers(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def make_product(db, tenant_id: uuid.UUID, *, price_cents: int = 1000, currency: str = "USD",  # type: ignore[no-untyped-def]
                       status: str = "active", variant_status: str = "active", tax_class: str = "standard",
                       weight_grams: int | None = 500, variants: int = 1, category_id: uuid.UUID | None = None,
                       name: str | None = None, stock: int | None = 100) -> dict[str, Any]:
    """A product with ``variants`` variants (and ``stock`` units of each in a stock location),
    inserted with SQL: the catalog and inventory APIs are not ours."""
    product_id = uuid.uuid4()
    slug = f"p-{product_id.hex[:10]}"
    async with db.tenant_transaction(tenant_id) as s:
        await s.execute(text(
            "INSERT INTO products (id, tenant_id, name, slug, status, tax_class, weight_grams, category_id) "
            "VALUES (:id, :t, :n, :s, :st, :tc, :w, :c)"),
            {"id": product_id, "t": tenant_id, "n": name or f"Product {slug}", "s": slug, "st": status,
             "tc": tax_class, "w": weight_grams, "c": category_id})
        ids = []
        for i in range(variants):
            vid = uuid.uuid4()
            await s.execute(text(
                "INSERT INTO variants (id, tenant_id, product_id, sku, price_cents, currency, status) "
                "VALUES (:id, :t, :p, :sku, :price, :cur, :st)"),
                {"id": vid, "t": tenant_id, "p": product_id, "sku": f"SKU-{vid.hex[:10]}", "price": price_cents + i,
                 "cur": currency, "st": variant_status})
            ids.append(vid)
        if stock is not None:
            location = (await s.execute(text(
                "INSERT INTO stock_locations (tenant_id, name, code) VALUES (:t, 'Main', :c) "
                "ON CONFLICT (tenant_id, code) DO UPDATE SET name = excluded.name RETURNING id"),
                {"t": tenant_id, "c": "main"})).scalar_one()
            for vid in ids:
                await s.execute(text("INSERT INTO inventory_levels (tenant_id, variant_id, location_id, on_hand) "
                                     "VALUES (:t, :v, :l, :n)"), {"t": tenant_id, "v": vid, "l": location, "n": stock})
    return {"product_id": product_id, "variant_ids": ids, "variant_id": ids[0]}


async def set_variant(db, tenant_id: uuid.UUID, variant_id: uuid.UUID, **values: Any) -> None:  # type: ignore[no-untyped-def]
    sets = ", ".join(f"{k} = :{k}" for k in values)
    async with db.tenant_transaction(tenant_id) as s:
        await s.execute(text(f"UPDATE variants SET {sets} WHERE id = :id"), {**values, "id": variant_id})


async def customer_headers(client: httpx.AsyncClient, tenant, email: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Register and log in a customer through the identity API; returns headers and the user id."""
    email = email or f"c{uuid.uuid4().hex[:10]}@example.com"
    password = "a perfectly fine passphrase"
    r = await client.post(f"{API}/auth/register", headers=tenant.host_headers, json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    r = await client.post(f"{API}/auth/login", headers=tenant.host_headers, json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    body = r.json()
    token = body.get("access_token") or body.get("tokens", {}).get("access_token")
    assert token, body
    me = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
    user_id = me.json().get("id") if me.status_code == 200 else None
    return {"headers": {"Authorization": f"Bearer {token}"}, "email": email, "user_id": user_id}


async def outbox(worker_db, tenant_id: uuid.UUID, type_: str | None = None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    async with worker_db.transaction() as s:
        rows = (await s.execute(text(
            "SELECT type, aggregate_id, data FROM outbox WHERE tenant_id = :t ORDER BY id"), {"t": tenant_id})).all()
    return [{"type": r.type, "aggregate_id": r.aggregate_id, "data": r.data} for r in rows
            if type_ is None or r.type == type_]
