"""Platform operators manage shops over HTTP; tenant resolution and suspension."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from mercato.platform.db import Database


def _new(slug: str | None = None, **kw) -> dict:  # type: ignore[no-untyped-def]
    slug = slug or f"s{uuid.uuid4().hex[:10]}"
    return {"name": "Test Shop", "slug": slug, "owner_email": f"owner@{slug}.example.com",
            "owner_password": "a long enough password", **kw}


async def test_operator_creates_shop_and_keys_work(client, operator_headers, db: Database) -> None:
    body = _new()
    r = await client.post("/api/v1/tenants", json=body, headers=operator_headers)
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["slug"] == body["slug"] and data["status"] == "active"
    assert data["subdomain"] == f"{body['slug']}.localhost"
    assert data["secret_api_key"].startswith("mksk_") and data["publishable_api_key"].startswith("mkpk_")
    # The secret key identifies the new tenant; it is not an operator credential.
    r2 = await client.get("/api/v1/tenants", headers={"Authorization": f"Bearer {data['secret_api_key']}"})
    assert r2.status_code == 403 and r2.json()["code"] == "permission_denied"
    # Keys are hashed at rest, and the creation is audited in the new tenant's log.
    tid = uuid.UUID(data["id"])
    async with db.tenant_transaction(tid) as s:
        hashes = (await s.execute(text("SELECT key_hash FROM api_keys"))).scalars().all()
        assert len(hashes) == 2 and data["secret_api_key"] not in hashes
        actions = (await s.execute(text("SELECT action, actor_type FROM audit_log"))).all()
        assert ("tenant.created", "operator") in [tuple(a) for a in actions]
        owner = (await s.execute(text("SELECT email, role FROM users"))).one()
        assert tuple(owner) == (body["owner_email"], "owner")


async def test_duplicate_and_reserved_and_invalid_slugs(client, operator_headers, db: Database) -> None:
    body = _new()
    assert (await client.post("/api/v1/tenants", json=body, headers=operator_headers)).status_code == 201
    dup = await client.post("/api/v1/tenants", json=_new(body["slug"]), headers=operator_headers)
    assert dup.status_code == 409 and dup.json()["code"] == "slug_taken"
    assert dup.json()["errors"][0]["field"] == "slug"
    reserved = await client.post("/api/v1/tenants", json=_new("admin"), headers=operator_headers)
    assert reserved.status_code == 409 and reserved.json()["code"] == "slug_taken"
    bad = await client.post("/api/v1/tenants", json=_new("Bad Slug!"), headers=operator_headers)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "body.slug"
    extra = await client.post("/api/v1/tenants", json={**_new(), "is_admin": True}, headers=operator_headers)
    assert extra.status_code == 422 and extra.json()["errors"][0]["code"] == "unknown_field"
    weak = await client.post("/api/v1/tenants", json=_new(owner_password="password"), headers=operator_headers)
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "owner_password"
    # Nothing half-written: the failed attempts left no tenant behind.
    async with db.platform_transaction() as s:
        n = (await s.execute(text("SELECT count(*) FROM tenants WHERE slug = 'bad slug!' OR slug = 'admin'"))).scalar()
        assert n == 0


async def test_only_operators_manage_tenants(client, tenant) -> None:
    assert (await client.get("/api/v1/tenants")).status_code == 401
    r = await client.post("/api/v1/tenants", json=_new(), headers=tenant.admin_headers)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


async def test_list_paginates_with_cursor_and_offset(client, operator_headers) -> None:
    for _ in range(3):
        assert (await client.post("/api/v1/tenants", json=_new(), headers=operator_headers)).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/tenants", params=params, headers=operator_headers)).json()
        assert len(page["items"]) <= 2
        seen += [t["id"] for t in page["items"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) >= 3
    by_offset = (await client.get("/api/v1/tenants", params={"limit": 2, "offset": 2},
                                  headers=operator_headers)).json()
    assert [t["id"] for t in by_offset["items"]] == seen[2:4]
    bad = await client.get("/api/v1/tenants", params={"cursor": "!!notacursor"}, headers=operator_headers)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


async def test_suspend_blocks_tenant_and_reactivate_restores(client, operator_headers, tenant) -> None:
    r = await client.post(f"/api/v1/tenants/{tenant.id}/suspend", headers=operator_headers)
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    for headers in (tenant.admin_headers, tenant.storefront_headers, tenant.host_headers):
        blocked = await client.get("/api/v1/tenants", headers=headers)
        assert blocked.status_code == 403 and blocked.json()["code"] == "tenant_suspended"
    again = await client.post(f"/api/v1/tenants/{tenant.id}/suspend", headers=operator_headers)
    assert again.status_code == 409
    assert again.json()["code"] == "illegal_transition" and again.json()["allowed_transitions"] == ["active"]
    r = await client.post(f"/api/v1/tenants/{tenant.id}/reactivate", headers=operator_headers)
    assert r.status_code == 200 and r.json()["status"] == "active"
    ok = await client.get("/api/v1/tenants", headers=tenant.admin_headers)
    assert ok.status_code == 403 and ok.json()["code"] == "permission_denied"  # resolved, just not an operator
    missing = await client.get(f"/api/v1/tenants/{uuid.uuid4()}", headers=operator_headers)
    assert missing.status_code == 404 and missing.json()["code"] == "tenant_not_found"


async def test_tenant_resolution_sources_must_agree(client, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    mismatch = await client.get("/api/v1/tenants", headers={**a.admin_headers, "X-Mercato-Tenant": b.slug})
    assert mismatch.status_code == 403 and mismatch.json()["code"] == "tenant_mismatch"
    host_mismatch = await client.get("/api/v1/tenants", headers={**a.admin_headers, "Host": f"{b.slug}.localhost"})
    assert host_mismatch.status_code == 403 and host_mismatch.json()["code"] == "tenant_mismatch"
    both = await client.get("/api/v1/tenants", headers={"Host": f"{a.slug}.localhost", "X-Mercato-Tenant": b.slug})
    assert both.status_code == 403 and both.json()["code"] == "tenant_mismatch"
    agree = await client.get("/api/v1/tenants", headers={**a.admin_headers, "Host": f"{a.slug}.localhost"})
    assert agree.status_code == 403 and agree.json()["code"] == "permission_denied"
    unknown = await client.get("/api/v1/tenants", headers={"X-Mercato-Tenant": "no-such-shop"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "tenant_not_found"
    forged = await client.get("/api/v1/tenants", headers={"Authorization": "Bearer mksk_platform_abc"})
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_token"
    garbage = await client.get("/api/v1/tenants", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert garbage.status_code == 401
