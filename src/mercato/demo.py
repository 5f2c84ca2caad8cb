"""Demo data for `make run` / `mercato demo`: idempotent (a shop that exists is left alone)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

import mercato.identity as identity
import mercato.tenancy as tenancy
from mercato.platform.db import Database, set_tenant
from mercato.tenancy.schemas import TenantCreate


async def load_demo(db: Database, shops: list[tuple[str, str]], password: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for name, slug in shops:
        domain = f"{slug}.example.com"
        async with db.platform_transaction() as s:
            if await tenancy.lookup_by_slug(s, slug) is None:
                result = await tenancy.create_tenant(
                    s, TenantCreate(name=name, slug=slug, owner_email=f"owner@{domain}", owner_password=password))
                await set_tenant(s, result.tenant.id)
                await identity.create_user(s, tenant_id=result.tenant.id, email=f"merchant@{domain}",
                                           role="merchant", password=password, first_name="Morgan",
                                           last_name="Merchant", email_verified=True)
                await identity.create_user(s, tenant_id=result.tenant.id, email=f"customer@{domain}",
                                           role="customer", password=password, first_name="Casey",
                                           last_name="Customer", email_verified=True)
        for role in ("owner", "merchant", "customer"):
            rows.append({"shop": name, "slug": slug, "role": role, "email": f"{role}@{domain}"})
    return rows




# --------------------------------------------------------------------------- catalog + orders

DEMO_CATEGORIES = {"Apparel": ["Tops", "Outerwear"], "Footwear": ["Running", "Hiking"], "Accessories": ["Bags"]}
DEMO_BRANDS = ["Northwind", "Summit & Co", "Urban Trail", "Kiteline"]
DEMO_ITEMS = {
    "Tops": ["Trail Tee", "Merino Crew", "Linen Shirt", "Base Layer", "Polo", "Henley", "Tank", "Long Sleeve Tee"],
    "Outerwear": ["Rain Shell", "Down Jacket", "Fleece", "Windbreaker", "Softshell", "Parka", "Vest", "Anorak"],
    "Running": ["Road Runner", "Tempo Racer", "Trail Blazer", "Daily Trainer", "Carbon Pace", "Recovery Slide"],
    "Hiking": ["Summit Boot", "Ridge Mid", "Canyon Low", "Alpine GTX", "Approach Shoe", "Trek Sandal"],
    "Bags": ["Canvas Tote", "Daypack 20", "Hip Pack", "Duffel 40", "Sling Bag", "Laptop Sleeve", "Dry Bag",
             "Roll-top Pack", "Camera Cube", "Travel Pouch", "Bottle Holster", "Map Case", "Shoe Bag",
             "Weekender", "Wash Kit", "Gym Sack", "Cooler Tote", "Packing Cubes", "Key Pouch", "Belt Bag",
             "Tech Organizer", "Rain Cover", "Tote Mini", "Backpack 30"],
}
DEMO_SIZES = {"Tops": ["S", "M", "L"], "Outerwear": ["S", "M", "L", "XL"], "Running": ["40", "42", "44"],
              "Hiking": ["41", "43", "45"], "Bags": ["One size"]}


async def _issue_keys(db: Database, tenant_id: Any) -> tuple[dict[str, str], dict[str, str]]:
    async with db.tenant_transaction(tenant_id) as s:
        secret = await identity.issue_api_key(s, tenant_id=tenant_id, name="demo loader", kind="secret",
                                              role="admin")
        public = await identity.issue_api_key(s, tenant_id=tenant_id, name="demo storefront", kind="publishable")
    return {"Authorization": f"Bearer {secret.token}"}, {"Authorization": f"Bearer {public.token}"}


async def _must(r: httpx.Response) -> Any:
    if r.status_code not in (200, 201):
        raise RuntimeError(f"demo: {r.request.method} {r.request.url.path} → {r.status_code} {r.text[:300]}")
    return r.json()


async def load_demo_catalog(app: FastAPI, tenant_id: Any, slug: str) -> int:
    """50+ products with variants, categories, brands, images (URLs) and stock in 2 locations,
    created through the HTTP API of ``app`` (lifespan entered). Returns products created (0 if present)."""
    admin, _ = await _issue_keys(app.state.db, tenant_id)
    api = "/api/v1"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo", timeout=60) as c:
        existing = await _must(await c.get(f"{api}/products", headers=admin, params={"limit": 1, "status": "active"}))
        if existing["items"]:
            return 0
        locations = []
        for code, name, priority in (("main", "Main warehouse", 0), ("store", "City store", 1)):
            loc = await _must(await c.post(f"{api}/stock-locations", headers=admin, json={
                "name": name, "code": code, "priority": priority,
                "address": {"line1": "1 Demo Way", "city": "Springfield", "postal_code": "94105", "country": "US"}}))
            locations.append(loc["id"])
        brands = [(await _must(await c.post(f"{api}/brands", headers=admin, json={
            "name": b, "logo_url": f"https://images.example.com/{slug}/brands/{i}.png"})))["id"]
            for i, b in enumerate(DEMO_BRANDS)]
        leaf_ids: dict[str, str] = {}
        for top, children in DEMO_CATEGORIES.items():
            parent = await _must(await c.post(f"{api}/categories", headers=admin, json={"name": top}))
            for child in children:
                leaf = await _must(await c.post(f"{api}/categories", headers=admin,
                                                json={"name": child, "parent_id": parent["id"]}))
                leaf_ids[child] = leaf["id"]
        created = 0
        for leaf, names in DEMO_ITEMS.items():
            sizes = DEMO_SIZES[leaf]
            for n, name in enumerate(names):
                price = 1500 + (created * 737) % 15000
                sku_base = f"{slug[:4].upper()}-{created:03d}"
                product = await _must(await c.post(f"{api}/products", headers=admin, json={
                    "name": name, "status": "active", "description": f"{name}: demo product in {leaf}.",
                    "brand_id": brands[(created + n) % len(brands)], "category_id": leaf_ids[leaf],
                    "tags": [leaf.lower(), "demo"], "weight_grams": 250 + 50 * (created % 7),
                    "options": [{"name": "Size", "values": sizes}],
                    "variants": [{"sku": f"{sku_base}-{s.replace(' ', '').upper()}", "options": {"Size": s},
                                  "price_cents": price, "currency": "USD",
                                  "compare_at_price_cents": price + 1000 if created % 5 == 0 else None}
                                 for s in sizes]}))
                await _must(await c.post(f"{api}/media", headers=admin, json={
                    "owner_type": "product", "owner_id": product["id"], "alt": name, "is_main": True,
                    "url": f"https://images.example.com/{slug}/products/{created}.jpg"}))
                for v in product["variants"]:
                    for i, location in enumerate(locations):
                        await _must(await c.post(f"{api}/inventory/adjustments", headers=admin, json={
                            "variant_id": v["id"], "location_id": location, "delta": 300 if i == 0 else 80,
                            "reason": "received", "note": "demo stock"}))
                created += 1
        return created


async def load_demo_commerce(settings: Any, urls: Any, slugs: list[str], orders_per_shop: int = 120) -> None:
    """Catalog and orders for the demo shops, through an in-process app (the real HTTP code paths)."""
    from mercato.app import create_app
    from mercato.checkout.demo import load_demo_orders

    # The loader is a trusted in-process client making hundreds of calls: no API rate limits.
    app = create_app(settings.model_copy(update={"rate_limit_enabled": False}), urls=urls, start_background=False)
    async with app.router.lifespan_context(app):
        for slug in slugs:
            async with app.state.db.platform_transaction() as s:
                ref = await tenancy.lookup_by_slug(s, slug)
            if ref is None:
                continue
            await load_demo_catalog(app, ref.id, slug)
            await load_demo_orders(app.state.db, ref.id, app=app, count=orders_per_shop)


__all__ = ["load_demo", "load_demo_catalog", "load_demo_commerce"]
