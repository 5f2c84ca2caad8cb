"""Brands (with logos, renames that refresh search) and collections (manual, ordered product sets)."""

from __future__ import annotations

import uuid

from catalog_factories import create_product, outbox, product_payload
from sqlalchemy import text

from mercato.platform.db import Database


async def test_brand_crud_rename_refreshes_search(client, tenant, db: Database, worker_db) -> None:
    h = tenant.admin_headers
    r = await client.post("/api/v1/brands", json={"name": "Acme Co", "logo_url": "https://cdn.example.com/acme.png"},
                          headers=h)
    assert r.status_code == 201, r.text
    brand = r.json()
    assert brand["slug"] == "acme-co" and brand["logo_url"] == "https://cdn.example.com/acme.png"
    r = await client.post("/api/v1/brands", json={"name": "Bad", "logo_url": "ftp://cdn.example.com/x.png"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.logo_url"
    r = await client.post("/api/v1/brands", json={"name": "Acme", "slug": "acme-co"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "slug_taken"
    p = await create_product(client, tenant, product_payload(brand_id=brand["id"]))
    assert p["brand"]["name"] == "Acme Co"
    r = await client.patch(f"/api/v1/brands/{brand['id']}", json={"name": "Zénith"}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "Zénith"
    async with db.tenant_transaction(tenant.id) as s:
        doc = (await s.execute(text("SELECT search_text, search_vector::text FROM products WHERE id = :i"),
                               {"i": p["id"]})).one()
    assert "zenith" in doc[0] and "acme" not in doc[0] and "'zenith':" in doc[1]
    listed = (await client.get("/api/v1/brands", headers=tenant.storefront_headers)).json()["items"]
    assert [b["id"] for b in listed] == [brand["id"]]
    assert (await client.delete(f"/api/v1/brands/{brand['id']}", headers=h)).status_code == 204
    assert (await client.get("/api/v1/brands", headers=tenant.storefront_headers)).json()["items"] == []
    assert (await client.get(f"/api/v1/products/{p['id']}", headers=tenant.storefront_headers)).json()["brand"] is None
    r = await client.post(f"/api/v1/brands/{brand['id']}/restore", headers=h)
    assert r.status_code == 200 and r.json()["deleted_at"] is None
    types = [t for t, _ in await outbox(worker_db, tenant.id, aggregate_id=brand["id"])]
    assert types == ["brand.created", "brand.updated", "brand.deleted", "brand.restored"]


async def test_brand_logo_from_uploaded_main_image(client, tenant) -> None:
    h = tenant.admin_headers
    brand = (await client.post("/api/v1/brands", json={"name": "Logo Less"}, headers=h)).json()
    assert brand["logo_url"] is None
    m = (await client.post("/api/v1/media", json={"owner_type": "brand", "owner_id": brand["id"],
                                                   "url": "https://cdn.example.com/logo.webp"}, headers=h)).json()
    assert m["is_main"] is True
    got = (await client.get(f"/api/v1/brands/{brand['slug']}", headers=tenant.host_headers)).json()
    assert got["logo_url"] == "https://cdn.example.com/logo.webp"


async def test_collections_add_remove_reorder(client, tenant, worker_db) -> None:
    h = tenant.admin_headers
    p1, p2, p3 = [await create_product(client, tenant) for _ in range(3)]
    draft = await create_product(client, tenant, product_payload(status="draft"))
    r = await client.post("/api/v1/collections", json={"name": "Summer Picks", "product_ids": [p1["id"], p2["id"]]},
                          headers=h)
    assert r.status_code == 201, r.text
    col = r.json()
    assert [p["id"] for p in col["products"]] == [p1["id"], p2["id"]]
    r = await client.post(f"/api/v1/collections/{col['id']}/products", json={"product_ids": [p3["id"], draft["id"]]},
                          headers=h)
    assert [p["id"] for p in r.json()["products"]] == [p1["id"], p2["id"], p3["id"], draft["id"]]
    # The storefront only sees products it could open.
    store = (await client.get(f"/api/v1/collections/{col['slug']}", headers=tenant.storefront_headers)).json()
    assert draft["id"] not in [p["id"] for p in store["products"]] and len(store["products"]) == 3
    order = [draft["id"], p3["id"], p1["id"], p2["id"]]
    r = await client.put(f"/api/v1/collections/{col['id']}/products/order", json={"product_ids": order}, headers=h)
    assert r.status_code == 200 and [p["id"] for p in r.json()["products"]] == order
    r = await client.put(f"/api/v1/collections/{col['id']}/products/order", json={"product_ids": order[:2]}, headers=h)
    assert r.status_code == 422
    r = await client.delete(f"/api/v1/collections/{col['id']}/products/{p3['id']}", headers=h)
    assert [p["id"] for p in r.json()["products"]] == [draft["id"], p1["id"], p2["id"]]
    r = await client.post(f"/api/v1/collections/{col['id']}/products", json={"product_ids": [str(uuid.uuid4())]},
                          headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "product_ids.0"
    # Unpublished collections are hidden from the storefront.
    r = await client.patch(f"/api/v1/collections/{col['id']}", json={"is_published": False}, headers=h)
    assert r.status_code == 200
    assert (await client.get(f"/api/v1/collections/{col['id']}", headers=tenant.storefront_headers)).status_code == 404
    assert (await client.get("/api/v1/collections", headers=tenant.storefront_headers)).json()["items"] == []
    assert len((await client.get("/api/v1/collections", headers=h)).json()["items"]) == 1
    assert (await client.delete(f"/api/v1/collections/{col['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/collections/{col['id']}", headers=h)).status_code == 404
    types = [t for t, _ in await outbox(worker_db, tenant.id, aggregate_id=col["id"])]
    assert types[0] == "collection.created" and types[-1] == "collection.deleted"
