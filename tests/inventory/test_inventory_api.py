"""The inventory HTTP API, end to end through the real app (admin secret key → inventory:write)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from .factories import make_variant, outbox

API = "/api/v1"


async def _location(client, tenant, code: str, priority: int = 0, **extra) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post(f"{API}/stock-locations", headers=tenant.admin_headers, json={
        "name": f"Warehouse {code}", "code": code, "priority": priority,
        "address": {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "de"}, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def _adjust(client, tenant, variant, location, **body):  # type: ignore[no-untyped-def]
    return await client.post(f"{API}/inventory/adjustments", headers=tenant.admin_headers,
                             json={"variant_id": str(variant), "location_id": location, **body})


async def test_stock_locations_crud(client, tenant, db) -> None:
    loc = await _location(client, tenant, "BER-1", priority=2)
    assert loc["address"]["country"] == "DE" and loc["is_active"] is True
    other = await _location(client, tenant, "HAM-1", priority=1)
    dup = await client.post(f"{API}/stock-locations", headers=tenant.admin_headers,
                            json={"name": "x", "code": "BER-1"})
    assert dup.status_code == 409 and dup.json()["code"] == "location_code_taken"
    bad = await client.post(f"{API}/stock-locations", headers=tenant.admin_headers, json={
        "name": "x", "code": "X", "address": {"line1": "a", "city": "b", "country": "XX"}})
    assert bad.status_code == 422
    page = await client.get(f"{API}/stock-locations?limit=1", headers=tenant.admin_headers)
    assert page.status_code == 200 and page.json()["has_more"] is True
    assert [i["code"] for i in page.json()["items"]] == ["HAM-1"]  # priority order
    nxt = await client.get(f"{API}/stock-locations?limit=1&cursor={page.json()['next_cursor']}",
                           headers=tenant.admin_headers)
    assert [i["code"] for i in nxt.json()["items"]] == ["BER-1"] and nxt.json()["has_more"] is False
    r = await client.patch(f"{API}/stock-locations/{loc['id']}", headers=tenant.admin_headers,
                           json={"is_active": False, "priority": 0})
    assert r.status_code == 200 and r.json()["is_active"] is False and r.json()["priority"] == 0
    clash = await client.patch(f"{API}/stock-locations/{loc['id']}", headers=tenant.admin_headers,
                               json={"code": "HAM-1"})
    assert clash.status_code == 409
    assert (await client.get(f"{API}/stock-locations?is_active=false", headers=tenant.admin_headers)
            ).json()["items"][0]["id"] == loc["id"]
    assert (await client.get(f"{API}/stock-locations/{loc['id']}", headers=tenant.admin_headers)).status_code == 200
    # a location that held stock cannot be deleted; an unused one can
    variant = await make_variant(db, tenant.id)
    assert (await _adjust(client, tenant, variant, other["id"], delta=1, reason="received")).status_code == 201
    used = await client.delete(f"{API}/stock-locations/{other['id']}", headers=tenant.admin_headers)
    assert used.status_code == 409 and used.json()["code"] == "location_in_use"
    assert (await client.delete(f"{API}/stock-locations/{loc['id']}", headers=tenant.admin_headers)).status_code == 204
    gone = await client.get(f"{API}/stock-locations/{loc['id']}", headers=tenant.admin_headers)
    assert gone.status_code == 404 and gone.json()["code"] == "location_not_found"
    async with db.tenant_transaction(tenant.id) as s:
        actions = (await s.execute(text("SELECT action FROM audit_log WHERE resource_type = 'stock_location' "
                                        "ORDER BY id"))).scalars().all()
    assert actions == ["stock_location.created", "stock_location.created", "stock_location.updated",
                       "stock_location.deleted"]


async def test_adjustments_write_ledger_rows_and_enforce_the_stock_rules(client, tenant, db, worker_db) -> None:
    variant = await make_variant(db, tenant.id)
    loc = (await _location(client, tenant, "MAIN"))["id"]
    r = await _adjust(client, tenant, variant, loc, delta=10, reason="received", note="PO 42", reference="PO-42")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["level"]["on_hand"] == 10 and body["level"]["available"] == 10
    assert body["level"]["last_restocked_at"] is not None
    entry = body["ledger_entry"]
    assert (entry["reason"], entry["delta_on_hand"], entry["on_hand_after"], entry["reference"], entry["actor_type"]) \
        == ("received", 10, 10, "PO-42", "secret_key")
    r = await _adjust(client, tenant, variant, loc, set=7, reason="cycle_count")
    assert r.json()["ledger_entry"]["delta_on_hand"] == -3 and r.json()["level"]["on_hand"] == 7
    negative = await _adjust(client, tenant, variant, loc, delta=-8, reason="damaged")
    assert negative.status_code == 409 and negative.json()["code"] == "negative_stock"
    hold = await client.post(f"{API}/inventory/reservations", headers=tenant.admin_headers,
                             json={"lines": [{"variant_id": str(variant), "quantity": 5}]})
    assert hold.status_code == 201
    reserved = await _adjust(client, tenant, variant, loc, delta=-3, reason="shrinkage")
    assert reserved.status_code == 409 and reserved.json()["code"] == "stock_reserved"
    assert reserved.json()["reserved"] == 5
    both = await _adjust(client, tenant, variant, loc, delta=1, set=1, reason="received")
    assert both.status_code == 422
    wrong_reason = await _adjust(client, tenant, variant, loc, delta=1, reason="sale")
    assert wrong_reason.status_code == 422  # system reasons are not for people
    unknown = await _adjust(client, tenant, uuid.uuid4(), loc, delta=1, reason="received")
    assert unknown.status_code == 404 and unknown.json()["code"] == "variant_not_found"
    nowhere = await _adjust(client, tenant, variant, str(uuid.uuid4()), delta=1, reason="received")
    assert nowhere.status_code == 404 and nowhere.json()["code"] == "location_not_found"
    types = [t for t, _ in await outbox(worker_db, tenant.id)]
    assert types.count("inventory.adjusted") == 2
    async with db.tenant_transaction(tenant.id) as s:
        audited = (await s.execute(text("SELECT count(*) FROM audit_log WHERE action = 'inventory.adjusted'"))).scalar()
    assert audited == 2


async def test_levels_ledger_and_variant_inventory_reads(client, tenant, db) -> None:
    v1, v2 = await make_variant(db, tenant.id), await make_variant(db, tenant.id)
    a = (await _location(client, tenant, "A", priority=1))["id"]
    b = (await _location(client, tenant, "B", priority=2))["id"]
    for variant, loc, qty in ((v1, a, 20), (v1, b, 3), (v2, a, 4)):
        assert (await _adjust(client, tenant, variant, loc, delta=qty, reason="received")).status_code == 201
    h = tenant.admin_headers
    levels = (await client.get(f"{API}/inventory/levels", headers=h)).json()
    assert len(levels["items"]) == 3 and levels["has_more"] is False
    low = (await client.get(f"{API}/inventory/levels?low_stock=true", headers=h)).json()["items"]
    assert {(i["variant_id"], i["location_id"]) for i in low} == {(str(v1), b), (str(v2), a)}
    assert all(i["low_stock"] and i["effective_reorder_threshold"] == 5 for i in low)
    assert len((await client.get(f"{API}/inventory/levels?low_stock=false", headers=h)).json()["items"]) == 1
    by_variant = (await client.get(f"{API}/inventory/levels?variant_id={v1}&location_id={b}", headers=h)).json()
    assert [i["on_hand"] for i in by_variant["items"]] == [3]
    first = (await client.get(f"{API}/inventory/levels?limit=2", headers=h)).json()
    second = (await client.get(f"{API}/inventory/levels?limit=2&cursor={first['next_cursor']}", headers=h)).json()
    assert len({i["id"] for i in first["items"] + second["items"]}) == 3 and second["has_more"] is False
    # thresholds: per level, null falls back to the shop default, which the settings change
    level_id = by_variant["items"][0]["id"]
    r = await client.patch(f"{API}/inventory/levels/{level_id}", headers=h, json={"reorder_threshold": 1})
    assert r.status_code == 200 and r.json()["low_stock"] is False and r.json()["reorder_threshold"] == 1
    assert (await client.patch(f"{API}/inventory/levels/{uuid.uuid4()}", headers=h,
                               json={"reorder_threshold": 1})).status_code == 404
    assert (await client.get(f"{API}/inventory/settings", headers=h)).json() == {
        "default_low_stock_threshold": 5, "reservation_ttl_seconds": 900}
    s = await client.patch(f"{API}/inventory/settings", headers=h, json={"default_low_stock_threshold": 0})
    assert s.status_code == 200 and s.json()["default_low_stock_threshold"] == 0
    assert (await client.get(f"{API}/inventory/levels?low_stock=true", headers=h)).json()["items"] == []
    # the variant view
    inv = (await client.get(f"{API}/variants/{v1}/inventory", headers=h)).json()
    assert (inv["on_hand"], inv["available"], inv["status"]) == (23, 23, "in_stock")
    assert [lv["location_code"] for lv in inv["levels"]] == ["A", "B"]
    assert (await client.get(f"{API}/variants/{uuid.uuid4()}/inventory", headers=h)).status_code == 404
    # the ledger: newest first, filters, cursor
    ledger = (await client.get(f"{API}/inventory/ledger?variant_id={v1}", headers=h)).json()
    assert [(e["location_id"], e["delta_on_hand"]) for e in ledger["items"]] == [(b, 3), (a, 20)]
    assert len((await client.get(f"{API}/inventory/ledger?location_id={a}&reason=received", headers=h)
                ).json()["items"]) == 2
    since = (datetime.now(UTC) + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert (await client.get(f"{API}/inventory/ledger", params={"since": since}, headers=h)).json()["items"] == []
    one = (await client.get(f"{API}/inventory/ledger?limit=1", headers=h)).json()
    rest = (await client.get(f"{API}/inventory/ledger?limit=5&cursor={one['next_cursor']}", headers=h)).json()
    assert one["has_more"] and len(rest["items"]) == 2 and rest["items"][0]["id"] < one["items"][0]["id"]
    assert (await client.get(f"{API}/inventory/ledger?cursor=bm9wZQ", headers=h)).status_code == 400


async def test_reservation_endpoints(client, tenant, db) -> None:
    variant = await make_variant(db, tenant.id)
    loc = (await _location(client, tenant, "MAIN"))["id"]
    await _adjust(client, tenant, variant, loc, delta=5, reason="received")
    h = tenant.admin_headers
    short = await client.post(f"{API}/inventory/reservations", headers=h,
                              json={"lines": [{"variant_id": str(variant), "quantity": 6}]})
    assert short.status_code == 409 and short.headers["content-type"].startswith("application/problem+json")
    assert short.json()["code"] == "insufficient_stock"
    assert short.json()["lines"] == [{"variant_id": str(variant), "requested": 6, "available": 5}]
    r = await client.post(f"{API}/inventory/reservations", headers=h, json={
        "lines": [{"variant_id": str(variant), "quantity": 2}], "expires_in_seconds": 60, "reference": "chk_1"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["lines"][0]["allocations"] == [{"location_id": loc, "quantity": 2, "committed": 0}]
    assert (await client.get(f"{API}/inventory/reservations/{rid}", headers=h)).json()["status"] == "active"
    ext = await client.post(f"{API}/inventory/reservations/{rid}/extend", headers=h, json={"expires_in_seconds": 600})
    assert ext.status_code == 200 and ext.json()["expires_at"] > r.json()["expires_at"]
    done = await client.post(f"{API}/inventory/reservations/{rid}/commit", headers=h)
    assert done.status_code == 200 and done.json()["status"] == "committed"
    again = await client.post(f"{API}/inventory/reservations/{rid}/release", headers=h, json={"reason": "oops"})
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    assert again.json()["allowed_transitions"] == []
    r2 = (await client.post(f"{API}/inventory/reservations", headers=h,
                            json={"lines": [{"variant_id": str(variant), "quantity": 1}]})).json()
    rel = await client.post(f"{API}/inventory/reservations/{r2['id']}/release", headers=h)
    assert rel.status_code == 200 and (rel.json()["status"], rel.json()["release_reason"]) == ("released", "cancelled")
    ledger = (await client.get(f"{API}/inventory/ledger?reservation_id={r2['id']}", headers=h)).json()["items"]
    assert [e["reason"] for e in ledger] == ["release", "reservation"]
    inv = (await client.get(f"{API}/variants/{variant}/inventory", headers=h)).json()
    assert (inv["on_hand"], inv["reserved"], inv["available"]) == (3, 0, 3)
    assert (await client.get(f"{API}/inventory/reservations/{uuid.uuid4()}", headers=h)).status_code == 404
    empty = await client.post(f"{API}/inventory/reservations", headers=h, json={"lines": []})
    assert empty.status_code == 422


async def test_permissions(client, tenant) -> None:
    assert (await client.get(f"{API}/inventory/levels")).status_code == 401
    r = await client.get(f"{API}/inventory/levels", headers=tenant.storefront_headers)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = await client.post(f"{API}/stock-locations", headers=tenant.storefront_headers, json={"name": "x", "code": "x"})
    assert r.status_code == 403


async def test_cross_tenant_isolation(client, make_tenant, db) -> None:
    a, b = await make_tenant(), await make_tenant()
    variant = await make_variant(db, a.id)
    loc = (await _location(client, a, "A-ONLY"))["id"]
    level = (await _adjust(client, a, variant, loc, delta=5, reason="received")).json()["level"]
    rid = (await client.post(f"{API}/inventory/reservations", headers=a.admin_headers,
                             json={"lines": [{"variant_id": str(variant), "quantity": 1}]})).json()["id"]
    hb = b.admin_headers
    assert (await client.get(f"{API}/inventory/levels", headers=hb)).json()["items"] == []
    assert (await client.get(f"{API}/inventory/ledger", headers=hb)).json()["items"] == []
    assert (await client.get(f"{API}/stock-locations", headers=hb)).json()["items"] == []
    assert (await client.get(f"{API}/stock-locations/{loc}", headers=hb)).status_code == 404
    assert (await client.get(f"{API}/variants/{variant}/inventory", headers=hb)).status_code == 404
    assert (await client.patch(f"{API}/inventory/levels/{level['id']}", headers=hb,
                               json={"reorder_threshold": 1})).status_code == 404
    assert (await client.get(f"{API}/inventory/reservations/{rid}", headers=hb)).status_code == 404
    assert (await client.post(f"{API}/inventory/reservations/{rid}/commit", headers=hb)).status_code == 404
    own_loc = (await _location(client, b, "B-1"))["id"]
    # B can adjust neither A's variant (at its own location) nor its own variant at A's location
    assert (await _adjust(client, b, variant, own_loc, delta=1, reason="received")).status_code == 404
    b_variant = await make_variant(db, b.id)
    assert (await _adjust(client, b, b_variant, loc, delta=1, reason="received")).status_code == 404
    r = await client.post(f"{API}/inventory/reservations", headers=hb,
                          json={"lines": [{"variant_id": str(variant), "quantity": 1}]})
    assert r.status_code == 404
    inv = (await client.get(f"{API}/variants/{variant}/inventory", headers=a.admin_headers)).json()
    assert (inv["on_hand"], inv["reserved"]) == (5, 1)
