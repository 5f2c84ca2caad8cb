"""Category tree: paths, nested listing, subtree moves, cycle rejection, soft delete and restore."""

from __future__ import annotations

import uuid
from typing import Any

from catalog_factories import create_product, outbox, product_payload

from mercato.catalog import category_descendant_ids
from mercato.platform.db import Database


async def _cat(client, tenant, name: str, parent: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = {"name": name, **({"parent_id": parent["id"]} if parent else {}), **kw}
    r = await client.post("/api/v1/categories", json=body, headers=tenant.admin_headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_tree_paths_and_nested_listing(client, tenant, db: Database) -> None:
    clothing = await _cat(client, tenant, "Clothing", sort_order=1)
    shoes = await _cat(client, tenant, "Shoes", sort_order=0)
    tops = await _cat(client, tenant, "Tops", clothing)
    tees = await _cat(client, tenant, "T-Shirts", tops, image_url="https://cdn.example.com/tees.png")
    assert tees["path"] == f"/{clothing['id']}/{tops['id']}/{tees['id']}/" and tees["depth"] == 2
    assert [b["slug"] for b in tees["breadcrumb"]] == ["clothing", "tops", "t-shirts"]
    r = await client.get("/api/v1/categories", params={"tree": "true"}, headers=tenant.storefront_headers)
    assert r.status_code == 200
    roots = r.json()["items"]
    assert [c["name"] for c in roots] == ["Shoes", "Clothing"]
    assert roots[1]["children"][0]["children"][0]["id"] == tees["id"]
    flat = (await client.get("/api/v1/categories", params={"limit": 2}, headers=tenant.host_headers)).json()
    assert len(flat["items"]) == 2 and flat["has_more"] and flat["next_cursor"]
    rest = (await client.get("/api/v1/categories", params={"cursor": flat["next_cursor"]},
                             headers=tenant.host_headers)).json()
    assert len(rest["items"]) == 2 and not rest["has_more"]
    detail = (await client.get("/api/v1/categories/tops", headers=tenant.storefront_headers)).json()
    assert [c["id"] for c in detail["children"]] == [tees["id"]]
    async with db.tenant_transaction(tenant.id) as s:
        ids = {str(i) for i in await category_descendant_ids(s, uuid.UUID(clothing["id"]))}
    assert ids == {clothing["id"], tops["id"], tees["id"]} and shoes["id"] not in ids
    r = await client.post("/api/v1/categories", json={"name": "x", "image_url": "http://cdn.example.com/a.png"},
                          headers=tenant.admin_headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.image_url"


async def test_move_subtree_and_reject_cycles(client, tenant, worker_db) -> None:
    h = tenant.admin_headers
    a = await _cat(client, tenant, "A")
    b = await _cat(client, tenant, "B", a)
    c = await _cat(client, tenant, "C", b)
    d = await _cat(client, tenant, "D")
    # Move B (with C) under D: both paths and depths are rewritten.
    r = await client.patch(f"/api/v1/categories/{b['id']}", json={"parent_id": d["id"]}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["path"] == f"/{d['id']}/{b['id']}/" and r.json()["depth"] == 1
    moved_c = (await client.get(f"/api/v1/categories/{c['id']}", headers=h)).json()
    assert moved_c["path"] == f"/{d['id']}/{b['id']}/{c['id']}/" and moved_c["depth"] == 2
    # Under itself or its own descendant → 409 category_cycle.
    for target in (b, c):
        r = await client.patch(f"/api/v1/categories/{b['id']}", json={"parent_id": target["id"]}, headers=h)
        assert r.status_code == 409 and r.json()["code"] == "category_cycle", r.text
    r = await client.patch(f"/api/v1/categories/{d['id']}", json={"parent_id": c["id"]}, headers=h)
    assert r.status_code == 409
    # Back to the root.
    r = await client.patch(f"/api/v1/categories/{b['id']}", json={"parent_id": None}, headers=h)
    assert r.status_code == 200 and r.json()["path"] == f"/{b['id']}/" and r.json()["depth"] == 0
    moved_c = (await client.get(f"/api/v1/categories/{c['id']}", headers=h)).json()
    assert moved_c["path"] == f"/{b['id']}/{c['id']}/" and moved_c["depth"] == 1
    events = await outbox(worker_db, tenant.id, aggregate_id=b["id"])
    assert [t for t, _ in events] == ["category.created", "category.updated", "category.updated"]


async def test_rename_refreshes_products_and_breadcrumb(client, tenant, db: Database) -> None:
    root = await _cat(client, tenant, "Apparel")
    leaf = await _cat(client, tenant, "Hoodies", root)
    p = await create_product(client, tenant, product_payload(category_id=leaf["id"]))
    assert [b["name"] for b in p["breadcrumb"]] == ["Apparel", "Hoodies"] and p["category"]["id"] == leaf["id"]
    r = await client.patch(f"/api/v1/categories/{leaf['id']}", json={"name": "Sweatshirts Été"},
                           headers=tenant.admin_headers)
    assert r.status_code == 200
    from sqlalchemy import text

    async with db.tenant_transaction(tenant.id) as s:
        doc = (await s.execute(text("SELECT search_text FROM products WHERE id = :i"), {"i": p["id"]})).scalar()
    assert "sweatshirts ete" in doc
    detail = (await client.get(f"/api/v1/products/{p['id']}", headers=tenant.storefront_headers)).json()
    assert detail["breadcrumb"][-1]["name"] == "Sweatshirts Été"


async def test_soft_delete_and_restore(client, tenant) -> None:
    h = tenant.admin_headers
    a = await _cat(client, tenant, "Parent")
    b = await _cat(client, tenant, "Child", a)
    r = await client.delete(f"/api/v1/categories/{a['id']}", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "category_has_children"
    assert (await client.delete(f"/api/v1/categories/{a['id']}", params={"cascade": "true"}, headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/categories/{b['id']}", headers=tenant.storefront_headers)).status_code == 404
    tree = (await client.get("/api/v1/categories", params={"tree": "true"}, headers=h)).json()["items"]
    assert tree == []
    tree = (await client.get("/api/v1/categories", params={"tree": "true", "include_deleted": "true"},
                             headers=h)).json()["items"]
    assert tree[0]["id"] == a["id"] and tree[0]["children"][0]["id"] == b["id"]
    # A child cannot come back before its parent.
    r = await client.post(f"/api/v1/categories/{b['id']}/restore", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "parent_deleted"
    r = await client.post(f"/api/v1/categories/{a['id']}/restore", params={"cascade": "true"}, headers=h)
    assert r.status_code == 200 and r.json()["deleted_at"] is None
    assert (await client.get(f"/api/v1/categories/{b['id']}", headers=tenant.storefront_headers)).status_code == 200
    # Products cannot be filed under a deleted category.
    assert (await client.delete(f"/api/v1/categories/{b['id']}", headers=h)).status_code == 204
    r = await client.post("/api/v1/products", json=product_payload(category_id=b["id"]), headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "category_id"
