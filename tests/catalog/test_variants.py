"""Variants: single and bulk writes (all-or-nothing), derived price range, detail query count, cache."""

from __future__ import annotations

import uuid

from catalog_factories import create_product, outbox, product_payload
from sqlalchemy import event


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
    assert counts[0] == counts[1], counts
    body = r.json()
    assert len(body["variants"]) == 30 and len(body["images"]) == 1 and len(body["variants"][0]["images"]) == 1


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

    async def provider(session, variant_ids):  # type: ignore[no-untyped-def]
        calls.append(list(variant_ids))
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
