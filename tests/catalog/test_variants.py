"""Variants: single and bulk writes (all-or-nothing), derived price range, detail query count, cache."""

from __future__ import annotations

import uuid

from catalog_factories import create_product, outbox, product_payload
from sqlalchemy import event

from mercato.catalog.schemas import ProductDetail


async def test_add_update_delete_variant_recomputes_price_range(client, tenant, worker_db) -> None:
    h = tenant.admin_headers
    p = await create_product(client, tenant, product_payload(sizes=("S",), colors=("Black", "White")))
    base = f"/api/v1/products/{p['id']}/variants"
    r = await client.post(base, json={"sku": f"NEW-{uuid.uuid4().hex[:6]}", "options": {"Size": "S", "Color": "Red"},
                                      "price_cents": 999, "currency": "USD"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_option_value"
    sku = f"NEW-{uuid.uuid4().hex[:6]}"
    r = await client.patch(f"/api/v1/products/{p['id']}", json={"options": [
        {"name": "Size", "values": ["S"]}, {"name": "Color", "values": ["Black", "White", "Red"]}]}, headers=h)
    assert r.status_code == 200
    r = await client.post(base, json={"sku": sku, "options": {"Size": "S", "Color": "Red"}, "price_cents": 999,
                                      "currency": "USD", "compare_at_price_cents": 1500}, headers=h)
    assert r.status_code == 201, r.text
    new = r.json()
    detail = (await client.get(f"/api/v1/products/{p['id']}", headers=h)).json()
    assert (detail["price_min_cents"], detail["price_max_cents"]) == (999, 2100)
    # Same SKU again (another product) → 409 naming the SKU; same combination → 422.
    other_payload = product_payload(sizes=("S", "M"))
    other_payload["variants"].pop()
    other = await create_product(client, tenant, other_payload)
    r = await client.post(f"/api/v1/products/{other['id']}/variants", json={
        "sku": sku, "options": {"Size": "M", "Color": "Black"}, "price_cents": 1, "currency": "USD"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "sku_taken" and r.json()["sku"] == sku
    assert r.json()["errors"][0]["field"] == "sku"
    r = await client.post(base, json={"sku": "X" + sku, "options": {"Size": "S", "Color": "Red"}, "price_cents": 1,
                                      "currency": "USD"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "duplicate_combination"
    # Different currency from the product's other variants.
    r = await client.patch(f"{base}/{new['id']}", json={"currency": "EUR"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "mixed_currencies"
    r = await client.patch(f"{base}/{new['id']}", json={"price_cents": 5000}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "compare_at_below_price"
    r = await client.patch(f"{base}/{new['id']}", json={"price_cents": 1200, "title": "Red"}, headers=h)
    assert r.status_code == 200 and r.json()["price_cents"] == 1200 and r.json()["title"] == "Red"
    assert (await client.delete(f"{base}/{new['id']}", headers=h)).status_code == 204
    assert (await client.get(f"{base}/{new['id']}", headers=h)).status_code == 404
    detail = (await client.get(f"/api/v1/products/{p['id']}", headers=h)).json()
    assert (detail["price_min_cents"], detail["price_max_cents"]) == (2000, 2100) and len(detail["variants"]) == 2
    types = [t for t, _ in await outbox(worker_db, tenant.id, aggregate_id=new["id"])]
    assert types == ["variant.created", "variant.updated", "variant.deleted"]
    # Unknown variant / product → 404.
    assert (await client.patch(f"{base}/{uuid.uuid4()}", json={"price_cents": 1}, headers=h)).status_code == 404
    r = await client.patch(f"/api/v1/products/{uuid.uuid4()}/variants/{new['id']}", json={"price_cents": 1}, headers=h)
    assert r.status_code == 404


async def test_bulk_update_is_all_or_nothing(client, tenant, worker_db) -> None:
    h = tenant.admin_headers
    p = await create_product(client, tenant, product_payload(sizes=("S", "M", "L")))
    v = p["variants"]
    url = f"/api/v1/products/{p['id']}/variants"
    # One bad item (compare-at below price) → nothing changes.
    r = await client.patch(url, json=[{"id": v[0]["id"], "price_cents": 100},
                                      {"sku": v[1]["sku"], "price_cents": 500, "compare_at_price_cents": 400}], headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "1.compare_at_price_cents"
    r = await client.patch(url, json=[{"id": v[0]["id"], "price_cents": 100}, {"sku": "NOPE", "price_cents": 1}],
                           headers=h)
    assert r.status_code == 422 and r.json()["errors"][0] == {
        "field": "1.sku", "code": "variant_not_found", "message": "no variant NOPE on this product"}
    r = await client.patch(url, json=[{"status": "inactive"}], headers=h)
    assert r.status_code == 422
    detail = (await client.get(f"/api/v1/products/{p['id']}", headers=h)).json()
    assert [x["price_cents"] for x in detail["variants"]] == [2000, 2100, 2200]
    # A valid batch: by id (renaming its SKU) and by SKU; swaps of option combinations are fine.
    new_sku = f"REN-{uuid.uuid4().hex[:6]}"
    r = await client.patch(url, json=[
        {"id": v[0]["id"], "price_cents": 1500, "sku": new_sku},
        {"sku": v[1]["sku"], "price_cents": 3000, "options": {"Size": "L", "Color": "Black"}},
        {"sku": v[2]["sku"], "options": {"Size": "M", "Color": "Black"}, "allow_backorder": True,
         "backorder_eta": "2030-01-15"},
    ], headers=h)
    assert r.status_code == 200, r.text
    assert [x["sku"] for x in r.json()] == [new_sku, v[1]["sku"], v[2]["sku"]]
    detail = (await client.get(f"/api/v1/products/{p['id']}", headers=h)).json()
    assert (detail["price_min_cents"], detail["price_max_cents"]) == (1500, 3000)
    by_id = {x["id"]: x for x in detail["variants"]}
    assert by_id[v[2]["id"]]["backorder_eta"] == "2030-01-15" and by_id[v[2]["id"]]["allow_backorder"] is True
    updated = await outbox(worker_db, tenant.id, type_prefix="variant.updated")
    assert len(updated) == 3 and "price_cents" in updated[0][1]["changed"]
    # A SKU used by another product cannot be taken in bulk either.
    other = await create_product(client, tenant, product_payload(sizes=("S",)))
    r = await client.patch(url, json=[{"id": v[0]["id"], "sku": other["variants"][0]["sku"]}], headers=h)
    assert r.status_code == 409 and r.json()["code"] == "sku_taken" and r.json()["errors"][0]["field"] == "0.sku"


async def test_detail_takes_constant_queries(client, tenant, app) -> None:
    small = await create_product(client, tenant, product_payload(sizes=("M",)))
    sizes = tuple(f"S{i}" for i in range(10))
    big = await create_product(client, tenant, product_payload(sizes=sizes, colors=("Black", "White", "Red")))
    assert len(big["variants"]) == 30
    for p in (small, big):  # an image on the product and on a variant
        for owner_type, owner_id in (("product", p["id"]), ("variant", p["variants"][0]["id"])):
            r = await client.post("/api/v1/media", json={"owner_type": owner_type, "owner_id": owner_id,
                                                         "url": "https://cdn.example.com/a.jpg"},
                                  headers=tenant.admin_headers)
            assert r.status_code == 201, r.text

    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        # Only this route's own reads: the principal's (set_config, API key lookup) belong to the platform.
        if "set_config" not in statement and "api_keys" not in statement:
            statements.append(statement)

    engine = app.state.db.engine.sync_engine
    counts = []
    # the storefront key's first use in this process looks it up (then it is remembered): not the detail's cost
    assert (await client.get("/api/v1/products", headers=tenant.storefront_headers)).status_code == 200
    event.listen(engine, "before_cursor_execute", count)
    try:
        for p in (small, big):
            statements.clear()
            r = await client.get(f"/api/v1/products/{p['slug']}", headers=tenant.storefront_headers)
            assert r.status_code == 200
            counts.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # ONE catalog statement (product, brand, category path, options, variants and images) and ONE stock
    # query from the inventory provider, for 1 variant and for 30 (it was 6 + 2).
    assert counts == [2, 2], (counts, [s[:60] for s in statements])
    body = r.json()
    assert len(body["variants"]) == 30 and len(body["images"]) == 1 and len(body["variants"][0]["images"]) == 1
    assert ProductDetail.model_validate(body).model_dump(mode="json") == body  # the documented shape, exactly


async def test_price_change_is_visible_on_next_read(client, tenant, app) -> None:
    p = await create_product(client, tenant, product_payload(sizes=("M",)))
    url = f"/api/v1/products/{p['slug']}"
    first = await client.get(url, headers=tenant.storefront_headers)
    hits = app.state.cache.hits
    second = await client.get(url, headers=tenant.storefront_headers)
    assert app.state.cache.hits == hits + 1 and second.json() == first.json()  # served from the cache
    r = await client.patch(f"/api/v1/products/{p['id']}/variants/{p['variants'][0]['id']}",
                           json={"price_cents": 4321}, headers=tenant.admin_headers)
    assert r.status_code == 200
    third = (await client.get(url, headers=tenant.storefront_headers)).json()
    assert third["variants"][0]["price_cents"] == 4321 and third["price_min_cents"] == 4321


async def test_availability_comes_from_the_provider(client, tenant, app) -> None:
    """The inventory module plugs in through app.state.availability_provider; without one it is null."""
    p = await create_product(client, tenant, product_payload(sizes=("S", "M")))
    calls: list[list[uuid.UUID]] = []

    async def provider(session, variant_ids, *, refs=None):  # type: ignore[no-untyped-def]
        calls.append(list(variant_ids))
        # The page hands over what it knows of its variants (no catalog query needed for backorder flags).
        assert set(refs) == set(variant_ids) and all(r.sellable and not r.allow_backorder for r in refs.values())
        assert refs[variant_ids[0]].product_name == p["name"]
        return {variant_ids[0]: {"status": "in_stock", "available": 7}}

    installed = getattr(app.state, "availability_provider", None)  # the inventory module's, if wired
    app.state.availability_provider = provider
    try:
        for _ in range(2):  # cached page, fresh stock
            body = (await client.get(f"/api/v1/products/{p['id']}", headers=tenant.storefront_headers)).json()
            assert body["variants"][0]["availability"] == {"status": "in_stock", "available": 7}
            assert body["variants"][1]["availability"] is None
    finally:
        app.state.availability_provider = installed
    assert len(calls) == 2 and len(calls[0]) == 2
    app.state.availability_provider = None
    try:
        body = (await client.get(f"/api/v1/products/{p['id']}", headers=tenant.storefront_headers)).json()
        assert [v["availability"] for v in body["variants"]] == [None, None]
    finally:
        app.state.availability_provider = installed


async def test_detail_visibility_rules_and_shape(client, tenant) -> None:
    """The one-statement page keeps every rule of the view: deleted brand and categories hidden from the
    storefront (the breadcrumb skips them, ``category`` is the leaf only while visible), inactive and
    deleted variants (and their images) hidden, uploads served from /file, images main first. Each body
    is exactly what the ``ProductDetail`` model would write."""
    h = tenant.admin_headers

    async def post(path: str, body: dict, **kw) -> dict:  # type: ignore[no-untyped-def,type-arg]
        r = await client.post(path, json=body, headers=h, **kw)
        assert r.status_code == 201, r.text
        return r.json()

    root = await post("/api/v1/categories", {"name": "Root"})
    mid = await post("/api/v1/categories", {"name": "Mid", "parent_id": root["id"]})
    leaf = await post("/api/v1/categories", {"name": "Leaf", "parent_id": mid["id"]})
    brand = await post("/api/v1/brands", {"name": "Gone Brand", "logo_url": "https://cdn.example.com/logo.png"})
    p = await create_product(client, tenant, product_payload(sizes=("S", "M", "L"), brand_id=brand["id"],
                                                             category_id=leaf["id"], tags=["x"],
                                                             metadata={"a": {"b": [1, 2]}}))
    v_inactive, v_deleted = p["variants"][1]["id"], p["variants"][2]["id"]
    first = await post("/api/v1/media", {"owner_type": "product", "owner_id": p["id"],
                                         "url": "https://cdn.example.com/1.jpg"})
    main = await post("/api/v1/media", {"owner_type": "product", "owner_id": p["id"], "is_main": True,
                                        "url": "https://cdn.example.com/2.jpg"})
    upload = await client.post("/api/v1/media/upload", data={"owner_type": "variant", "owner_id": p["variants"][0]["id"]},
                               files={"file": ("x.png", _png(), "application/octet-stream")}, headers=h)
    assert upload.status_code == 201, upload.text
    for vid in (v_inactive, v_deleted):
        await post("/api/v1/media", {"owner_type": "variant", "owner_id": vid, "url": "https://cdn.example.com/v.jpg"})
    assert (await client.patch(f"/api/v1/products/{p['id']}/variants/{v_inactive}", json={"status": "inactive"},
                               headers=h)).status_code == 200
    assert (await client.delete(f"/api/v1/products/{p['id']}/variants/{v_deleted}", headers=h)).status_code == 204
    assert (await client.delete(f"/api/v1/brands/{brand['id']}", headers=h)).status_code == 204
    assert (await client.delete(f"/api/v1/categories/{leaf['id']}", headers=h)).status_code == 204

    async def page(headers: dict, **params) -> dict:  # type: ignore[no-untyped-def,type-arg]
        r = await client.get(f"/api/v1/products/{p['slug']}", params=params, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert ProductDetail.model_validate(body).model_dump(mode="json") == body
        return body

    store = await page(tenant.storefront_headers)
    assert store["brand"] is None and store["brand_id"] == brand["id"]
    assert [c["id"] for c in store["breadcrumb"]] == [root["id"], mid["id"]] and store["category"] is None
    assert [v["id"] for v in store["variants"]] == [p["variants"][0]["id"]]
    assert store["variants"][0]["images"][0]["url"] == f"/api/v1/media/{upload.json()['id']}/file"
    assert [m["id"] for m in store["images"]] == [main["id"], first["id"]] and store["images"][0]["is_main"]
    assert store["metadata"] == {"a": {"b": [1, 2]}} and store["tags"] == ["x"]

    admin = await page(h)
    assert admin["brand"] == {"id": brand["id"], "name": "Gone Brand", "slug": brand["slug"],
                              "logo_url": "https://cdn.example.com/logo.png"}
    assert [c["id"] for c in admin["breadcrumb"]] == [root["id"], mid["id"], leaf["id"]]
    assert admin["category"] == {"id": leaf["id"], "name": "Leaf", "slug": leaf["slug"]}
    assert [v["id"] for v in admin["variants"]] == [p["variants"][0]["id"], v_inactive]
    assert len(admin["variants"][1]["images"]) == 1
    with_deleted = await page(h, include_deleted="true")
    assert [v["id"] for v in with_deleted["variants"]] == [v["id"] for v in p["variants"]]
    assert with_deleted["variants"][2]["deleted_at"] is not None
    # Not found stays a problem, by slug and by id, in every view.
    for ref in ("no-such-product", str(uuid.uuid4())):
        r = await client.get(f"/api/v1/products/{ref}", headers=tenant.storefront_headers)
        assert r.status_code == 404 and r.json()["code"] == "product_not_found"


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()
