"""Cross-tenant leak test: another shop's catalog is invisible and untouchable, by id or by slug."""

from __future__ import annotations

from catalog_factories import create_product, product_payload


async def test_other_tenant_cannot_read_or_write(client, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    p = await create_product(client, a, product_payload())
    cat = (await client.post("/api/v1/categories", json={"name": "Secret"}, headers=a.admin_headers)).json()
    brand = (await client.post("/api/v1/brands", json={"name": "Hidden"}, headers=a.admin_headers)).json()
    col = (await client.post("/api/v1/collections", json={"name": "Mine", "product_ids": [p["id"]]},
                             headers=a.admin_headers)).json()
    media = (await client.post("/api/v1/media", json={"owner_type": "product", "owner_id": p["id"],
                                                       "url": "https://cdn.example.com/x.jpg"},
                               headers=a.admin_headers)).json()
    vid = p["variants"][0]["id"]
    for headers in (b.admin_headers, b.storefront_headers, b.host_headers):
        for url in (f"/api/v1/products/{p['id']}", f"/api/v1/products/{p['slug']}",
                    f"/api/v1/products/{p['id']}/variants", f"/api/v1/categories/{cat['id']}",
                    f"/api/v1/categories/{cat['slug']}", f"/api/v1/brands/{brand['id']}",
                    f"/api/v1/collections/{col['id']}", f"/api/v1/media/{media['id']}",
                    f"/api/v1/media/{media['id']}/file"):
            r = await client.get(url, headers=headers)
            assert r.status_code == 404, (url, r.status_code)
    h = b.admin_headers
    writes = [
        ("PATCH", f"/api/v1/products/{p['id']}", {"name": "pwned"}),
        ("DELETE", f"/api/v1/products/{p['id']}", None),
        ("POST", f"/api/v1/products/{p['id']}/restore", None),
        ("PATCH", f"/api/v1/products/{p['id']}/variants/{vid}", {"price_cents": 1}),
        ("PATCH", f"/api/v1/products/{p['id']}/variants", [{"id": vid, "price_cents": 1}]),
        ("DELETE", f"/api/v1/products/{p['id']}/variants/{vid}", None),
        ("PATCH", f"/api/v1/categories/{cat['id']}", {"name": "pwned"}),
        ("DELETE", f"/api/v1/categories/{cat['id']}", None),
        ("PATCH", f"/api/v1/brands/{brand['id']}", {"name": "pwned"}),
        ("PATCH", f"/api/v1/collections/{col['id']}", {"name": "pwned"}),
        ("PATCH", f"/api/v1/media/{media['id']}", {"alt": "pwned"}),
        ("DELETE", f"/api/v1/media/{media['id']}", None),
    ]
    for method, url, body in writes:
        r = await client.request(method, url, json=body, headers=h)
        assert r.status_code == 404, (method, url, r.status_code, r.text)
    # Referencing A's rows from B's writes fails too.
    r = await client.post("/api/v1/products", json=product_payload(category_id=cat["id"], brand_id=brand["id"]),
                          headers=h)
    assert r.status_code == 422
    r = await client.post("/api/v1/collections", json={"name": "x", "product_ids": [p["id"]]}, headers=h)
    assert r.status_code == 422
    # B may reuse A's SKU and slug: uniqueness is per shop.
    same = product_payload(name=p["name"])
    same["variants"][0]["sku"] = p["variants"][0]["sku"]
    r = await client.post("/api/v1/products", json=same, headers=h)
    assert r.status_code == 201 and r.json()["slug"] == p["slug"]
    # A's product is untouched.
    after = (await client.get(f"/api/v1/products/{p['id']}", headers=a.admin_headers)).json()
    assert after["name"] == p["name"] and after["variants"][0]["price_cents"] == p["variants"][0]["price_cents"]
