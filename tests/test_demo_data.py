"""Demo data: the catalog a demo shop gets (through the real HTTP API)."""

from __future__ import annotations

from mercato.demo import load_demo_catalog


async def test_demo_catalog_has_50_products_with_variants_images_and_stock(app, client, tenant) -> None:  # type: ignore[no-untyped-def]
    created = await load_demo_catalog(app, tenant.id, tenant.slug)
    assert created >= 50
    listing = (await client.get("/api/v1/products", params={"limit": 100}, headers=tenant.storefront_headers)).json()
    assert len(listing["items"]) >= 50
    assert all(item["image_url"].startswith("https://") for item in listing["items"])
    first = listing["items"][0]
    detail = (await client.get(f"/api/v1/products/{first['id']}", headers=tenant.storefront_headers)).json()
    assert len(detail["variants"]) >= 1 and detail["category"] and detail["brand"]
    assert all(v["availability"]["available"] > 0 for v in detail["variants"])
    locations = (await client.get("/api/v1/stock-locations", headers=tenant.admin_headers)).json()["items"]
    assert len(locations) == 2
    assert await load_demo_catalog(app, tenant.id, tenant.slug) == 0  # idempotent
