"""Products over HTTP: one-call create with options and variants, validation, visibility, soft delete."""

from __future__ import annotations

import uuid

from catalog_factories import create_product, outbox, product_payload
from sqlalchemy import text

from mercato.platform.db import Database


async def test_create_product_with_options_and_variants(client, tenant, db: Database, worker_db) -> None:
    payload = product_payload("Crème Brûlée Tee", sizes=("S", "M", "L"), colors=("Black", "White"),
                              tags=["summer"], metadata={"material": "cotton"}, weight_grams=180)
    r = await client.post("/api/v1/products", json=payload, headers=tenant.admin_headers)
    assert r.status_code == 201, r.text
    p = r.json()
    assert r.headers["location"] == f"/api/v1/products/{p['id']}"
    assert p["slug"] == "creme-brulee-tee" and p["status"] == "active" and p["metadata"] == {"material": "cotton"}
    assert [o["name"] for o in p["options"]] == ["Size", "Color"] and p["options"][0]["values"] == ["S", "M", "L"]
    assert len(p["variants"]) == 6
    assert (p["price_min_cents"], p["price_max_cents"], p["currency"]) == (2000, 2500, "USD")
    assert p["price_range"] == {"min_cents": 2000, "max_cents": 2500, "currency": "USD", "min": "20.00", "max": "25.00"}
    assert p["variants"][0]["price"] == "20.00" and "availability" in p["variants"][0]

    assert [t for t, _ in await outbox(worker_db, tenant.id, aggregate_id=p["id"])] == ["product.created"]
    assert len(await outbox(worker_db, tenant.id, type_prefix="variant.created")) == 6
    async with db.tenant_transaction(tenant.id) as s:
        audit = (await s.execute(text("SELECT action FROM audit_log WHERE resource_id = :i"), {"i": p["id"]})).scalars()
        assert "product.created" in list(audit)
        doc = (await s.execute(text("SELECT search_text, search_vector::text FROM products WHERE id = :i"),
                               {"i": p["id"]})).one()
        # The trigram text is name, brand, category (SKUs are full-text only: test_search.py "tj-4455").
        assert doc[0].startswith("creme brulee tee") and "sku" not in doc[0]
        assert "'creme':1A" in doc[1] and "'summer'" in doc[1] and "'sku':" in doc[1]

    # Same name again: a free slug is generated with a suffix.
    again = await create_product(client, tenant, product_payload("Crème Brûlée Tee"))
    assert again["slug"] == "creme-brulee-tee-2"
    # Read by id and by slug.
    by_slug = await client.get("/api/v1/products/creme-brulee-tee", headers=tenant.admin_headers)
    assert by_slug.status_code == 200 and by_slug.json()["id"] == p["id"]


async def test_jpy_has_no_minor_unit(client, tenant) -> None:
    p = await create_product(client, tenant, product_payload(currency="JPY", price=1500, sizes=("M",)))
    assert p["currency"] == "JPY" and p["variants"][0]["price_cents"] == 1500
    assert p["variants"][0]["price"] == "1500" and p["price_range"]["min"] == "1500"


async def test_validation_problems_name_fields(client, tenant) -> None:
    h = tenant.admin_headers
    base = product_payload(sizes=("S", "M"))
    # Unknown option value and a duplicate combination.
    bad = {**base, "variants": [
        {"sku": "A-1", "options": {"Size": "XL", "Color": "Black"}, "price_cents": 100, "currency": "USD"},
        {"sku": "A-2", "options": {"Size": "S", "Color": "Black"}, "price_cents": 100, "currency": "USD"},
        {"sku": "A-3", "options": {"Size": "S", "Color": "Black"}, "price_cents": 100, "currency": "USD"},
        {"sku": "A-4", "options": {"Size": "M"}, "price_cents": 100, "currency": "USD"},
    ]}
    r = await client.post("/api/v1/products", json=bad, headers=h)
    assert r.status_code == 422, r.text
    fields = {(e["field"], e["code"]) for e in r.json()["errors"]}
    assert ("variants.0.options.Size", "unknown_option_value") in fields
    assert ("variants.2.options", "duplicate_combination") in fields
    assert ("variants.3.options.Color", "missing_option") in fields
    # Pydantic-level: unknown currency, negative price, compare_at below price, unknown field, http slug.
    cases = [
        ({"currency": "XYZ"}, "body.variants.0.currency"),
        ({"price_cents": -1}, "body.variants.0.price_cents"),
        ({"compare_at_price_cents": 1}, "body.variants.0"),
        ({"colour": "red"}, "body.variants.0.colour"),
    ]
    for patch, field in cases:
        body = product_payload(sizes=("S",))
        body["variants"][0].update(patch)
        r = await client.post("/api/v1/products", json=body, headers=h)
        assert r.status_code == 422, (patch, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (patch, r.json())
    r = await client.post("/api/v1/products", json={**product_payload(), "is_featured": True}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_field"
    r = await client.post("/api/v1/products", json={**product_payload(), "status": "live"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.status"
    # Mixed currencies within a product.
    mixed = product_payload(sizes=("S", "M"))
    mixed["variants"][1]["currency"] = "EUR"
    r = await client.post("/api/v1/products", json=mixed, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "mixed_currencies"
    # Unknown brand / category.
    r = await client.post("/api/v1/products", json={**product_payload(), "brand_id": str(uuid.uuid4())}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "brand_id"
    # Malformed JSON is a 400, never a 500.
    r = await client.post("/api/v1/products", content=b"{", headers={**h, "Content-Type": "application/json"})
    assert r.status_code == 400


async def test_sku_and_slug_conflicts(client, tenant) -> None:
    h = tenant.admin_headers
    first = await create_product(client, tenant, product_payload(sizes=("S",)))
    sku = first["variants"][0]["sku"]
    dup = product_payload(sizes=("S", "M"))
    dup["variants"][1]["sku"] = sku
    r = await client.post("/api/v1/products", json=dup, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "sku_taken"
    assert r.json()["sku"] == sku and r.json()["errors"][0]["field"] == "variants.1.sku"
    # Two variants of one payload with the same SKU.
    twice = product_payload(sizes=("S", "M"))
    twice["variants"][1]["sku"] = twice["variants"][0]["sku"]
    r = await client.post("/api/v1/products", json=twice, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "duplicate_sku"
    # Explicit slug taken → 409; slug that looks like an id → 422.
    r = await client.post("/api/v1/products", json={**product_payload(), "slug": first["slug"]}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "slug_taken" and r.json()["errors"][0]["field"] == "slug"
    r = await client.post("/api/v1/products", json={**product_payload(), "slug": str(uuid.uuid4())}, headers=h)
    assert r.status_code == 422
    # Nothing half-written: SKUs from the failed payloads are free.
    ok = await create_product(client, tenant, product_payload(sizes=("M",)))
    assert ok["variants"][0]["sku"] != sku


async def test_update_product_fields_and_slug(client, tenant, db: Database, worker_db) -> None:
    h = tenant.admin_headers
    p = await create_product(client, tenant, product_payload("Old Name", sizes=("S",)))
    r = await client.patch(f"/api/v1/products/{p['id']}", json={"name": "New Name", "tags": ["a", "b"],
                                                                "slug": "new-name", "description": "Soft café"},
                           headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "New Name" and r.json()["slug"] == "new-name" and r.json()["tags"] == ["a", "b"]
    assert (await client.get("/api/v1/products/new-name", headers=h)).status_code == 200
    assert (await client.get("/api/v1/products/old-name", headers=h)).status_code == 404
    r = await client.patch(f"/api/v1/products/{p['id']}", json={"name": None}, headers=h)
    assert r.status_code == 422
    async with db.tenant_transaction(tenant.id) as s:
        row = (await s.execute(text("SELECT search_text, search_vector::text FROM products WHERE id = :i"),
                               {"i": p["id"]})).one()
        assert row[0].startswith("new name") and "'cafe':" in row[1]
        changes = (await s.execute(text("SELECT changes FROM audit_log WHERE action = 'product.updated'"))).scalar()
        assert changes["name"] == {"from": "Old Name", "to": "New Name"}
    assert len(await outbox(worker_db, tenant.id, type_prefix="product.updated")) == 1
    # Replacing options must keep existing variants valid.
    r = await client.patch(f"/api/v1/products/{p['id']}", json={"options": [{"name": "Size", "values": ["L"]}]},
                           headers=h)
    assert r.status_code == 422
    r = await client.patch(f"/api/v1/products/{p['id']}", json={"options": [
        {"name": "Size", "values": ["S", "M", "L"]}, {"name": "Color", "values": ["Black", "Red"]}]}, headers=h)
    assert r.status_code == 200 and r.json()["options"][0]["values"] == ["S", "M", "L"]


async def test_storefront_sees_only_active_products(client, tenant) -> None:
    draft = await create_product(client, tenant, product_payload(status="draft"))
    active = await create_product(client, tenant, product_payload())
    for headers in (tenant.storefront_headers, tenant.host_headers):
        assert (await client.get(f"/api/v1/products/{draft['id']}", headers=headers)).status_code == 404
        assert (await client.get(f"/api/v1/products/{active['slug']}", headers=headers)).status_code == 200
    assert (await client.get(f"/api/v1/products/{draft['id']}", headers=tenant.admin_headers)).status_code == 200
    # An inactive variant is hidden from the storefront and out of the price range.
    vid = active["variants"][-1]["id"]
    r = await client.patch(f"/api/v1/products/{active['id']}/variants/{vid}", json={"status": "inactive"},
                           headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    store = (await client.get(f"/api/v1/products/{active['id']}", headers=tenant.storefront_headers)).json()
    assert vid not in [v["id"] for v in store["variants"]] and store["price_max_cents"] == 2000
    admin = (await client.get(f"/api/v1/products/{active['id']}", headers=tenant.admin_headers)).json()
    assert vid in [v["id"] for v in admin["variants"]]
    # No tenant at all → a clear problem.
    r = await client.get(f"/api/v1/products/{active['id']}")
    assert r.status_code == 400 and r.json()["code"] == "tenant_required"
    # Storefront keys cannot write.
    r = await client.patch(f"/api/v1/products/{active['id']}", json={"name": "x"}, headers=tenant.storefront_headers)
    assert r.status_code == 403


async def test_soft_delete_and_restore(client, tenant, worker_db) -> None:
    h = tenant.admin_headers
    p = await create_product(client, tenant)
    assert (await client.delete(f"/api/v1/products/{p['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/products/{p['id']}", headers=tenant.storefront_headers)).status_code == 404
    assert (await client.get(f"/api/v1/products/{p['id']}", headers=h)).status_code == 404
    r = await client.get(f"/api/v1/products/{p['id']}", params={"include_deleted": "true"}, headers=h)
    assert r.status_code == 200 and r.json()["deleted_at"] is not None
    # A storefront caller cannot peek with include_deleted.
    r = await client.get(f"/api/v1/products/{p['id']}", params={"include_deleted": "true"},
                         headers=tenant.storefront_headers)
    assert r.status_code == 404
    assert (await client.delete(f"/api/v1/products/{p['id']}", headers=h)).status_code == 404
    r = await client.post(f"/api/v1/products/{p['id']}/restore", headers=h)
    assert r.status_code == 200 and r.json()["deleted_at"] is None
    assert (await client.post(f"/api/v1/products/{p['id']}/restore", headers=h)).json()["code"] == "not_deleted"
    assert (await client.get(f"/api/v1/products/{p['slug']}", headers=tenant.storefront_headers)).status_code == 200
    types = [t for t, _ in await outbox(worker_db, tenant.id, aggregate_id=p["id"])]
    assert types == ["product.created", "product.deleted", "product.restored"]
