"""Staff management: invitations, roles, suspension and deactivation, listing."""

from __future__ import annotations

import uuid

from identity_helpers import (
    PASSWORD,
    bearer,
    customer_tokens,
    login,
    mailed_token,
    outbox,
    owner_tokens,
    staff_tokens,
)
from sqlalchemy import text

API = "/api/v1"


async def _invite(client, tenant, worker_db, role: str, headers=None) -> dict:  # type: ignore[no-untyped-def]
    email = f"{role}{uuid.uuid4().hex[:6]}@example.com"
    r = await client.post(f"{API}/users", headers=headers or tenant.admin_headers, json={"email": email, "role": role})
    assert r.status_code == 201, r.text
    token = await mailed_token(worker_db, tenant.id, "staff_invitation", email)
    r = await client.post(f"{API}/auth/accept-invitation", json={"token": token, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {**r.json(), "token": token}


async def test_invite_accept_and_login(client, tenant, worker_db) -> None:
    merchant = await _invite(client, tenant, worker_db, "merchant")
    assert merchant["role"] == "merchant" and merchant["email_verified_at"] is not None
    r = await client.post(f"{API}/auth/accept-invitation", json={"token": merchant["token"], "password": PASSWORD})
    assert r.status_code == 400  # single use
    r = await login(client, tenant, merchant["email"])
    assert r.status_code == 200 and "access_token" in r.json()  # merchants: MFA optional
    me = (await client.get(f"{API}/auth/me", headers=bearer(r.json()["access_token"]))).json()
    assert "catalog:write" in me["permissions"] and "users:write" not in me["permissions"]
    assert "user.invited" in [e["type"] for e in await outbox(worker_db, tenant.id)]
    # an admin must enrol MFA at first login
    admin = await _invite(client, tenant, worker_db, "admin")
    assert (await staff_tokens(client, tenant, admin["email"], PASSWORD))["access_token"]
    dup = await client.post(f"{API}/users", headers=tenant.admin_headers, json={"email": admin["email"], "role": "admin"})
    assert dup.status_code == 409 and dup.json()["code"] == "email_taken"
    r = await client.post(f"{API}/users", headers=tenant.admin_headers, json={"email": "o@example.com", "role": "owner"})
    assert r.status_code == 403 and r.json()["code"] == "owner_protected"


async def test_permissions_on_staff_routes(client, tenant, worker_db) -> None:
    customer = await customer_tokens(client, tenant)
    auth = bearer(customer["access_token"])
    assert (await client.get(f"{API}/users", headers=auth)).status_code == 403
    assert (await client.post(f"{API}/users", headers=auth, json={"email": "a@b.co", "role": "admin"})).status_code == 403
    assert (await client.get(f"{API}/users")).status_code == 401
    support = await _invite(client, tenant, worker_db, "support")
    s_auth = bearer((await login(client, tenant, support["email"])).json()["access_token"])
    assert (await client.get(f"{API}/users", headers=s_auth)).status_code == 200  # users:read
    r = await client.post(f"{API}/users/{customer['user']['id']}/suspend", headers=s_auth)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


async def test_list_filters_and_pages(client, tenant, worker_db) -> None:
    for _ in range(3):
        await customer_tokens(client, tenant)
    await _invite(client, tenant, worker_db, "merchant")
    r = await client.get(f"{API}/users", headers=tenant.admin_headers, params={"role": "customer", "limit": 2})
    page1 = r.json()
    assert r.status_code == 200 and len(page1["items"]) == 2 and page1["has_more"] is True
    r = await client.get(f"{API}/users", headers=tenant.admin_headers,
                         params={"role": "customer", "limit": 2, "cursor": page1["next_cursor"]})
    page2 = r.json()
    assert len(page2["items"]) == 1 and page2["has_more"] is False
    ids = {u["id"] for u in page1["items"] + page2["items"]}
    assert len(ids) == 3 and all(u["role"] == "customer" for u in page1["items"] + page2["items"])
    r = await client.get(f"{API}/users", headers=tenant.admin_headers, params={"status": "suspended"})
    assert r.json()["items"] == []
    assert (await client.get(f"{API}/users", headers=tenant.admin_headers, params={"cursor": "!!"})).status_code == 400
    one = await client.get(f"{API}/users/{tenant.owner_id}", headers=tenant.admin_headers)
    assert one.status_code == 200 and one.json()["role"] == "owner"
    assert (await client.get(f"{API}/users/{uuid.uuid4()}", headers=tenant.admin_headers)).status_code == 404


async def test_role_changes(client, tenant, worker_db) -> None:
    merchant = await _invite(client, tenant, worker_db, "merchant")
    r = await client.patch(f"{API}/users/{merchant['id']}/role", headers=tenant.admin_headers, json={"role": "support"})
    assert r.status_code == 200 and r.json()["role"] == "support"
    events = [e for e in await outbox(worker_db, tenant.id, "user.role_changed")]
    assert events[-1]["data"]["previous_role"] == "merchant" and events[-1]["data"]["role"] == "support"
    # an admin (the secret key acts as admin) cannot demote the owner, nor promote to owner
    r = await client.patch(f"{API}/users/{tenant.owner_id}/role", headers=tenant.admin_headers, json={"role": "admin"})
    assert r.status_code == 403 and r.json()["code"] == "owner_protected"
    r = await client.patch(f"{API}/users/{merchant['id']}/role", headers=tenant.admin_headers, json={"role": "owner"})
    assert r.status_code == 403
    r = await client.patch(f"{API}/users/{merchant['id']}/role", headers=tenant.admin_headers,
                           json={"role": "customer"})
    assert r.status_code == 422  # not a staff role
    customer = await customer_tokens(client, tenant)
    r = await client.patch(f"{API}/users/{customer['user']['id']}/role", headers=tenant.admin_headers,
                           json={"role": "admin"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_role"
    # nobody changes their own role: the owner tries
    owner = await owner_tokens(client, tenant)
    r = await client.patch(f"{API}/users/{tenant.owner_id}/role", headers=bearer(owner["access_token"]),
                           json={"role": "admin"})
    assert r.status_code == 403 and r.json()["code"] == "self_modification"
    # the owner may promote to owner
    r = await client.patch(f"{API}/users/{merchant['id']}/role", headers=bearer(owner["access_token"]),
                           json={"role": "owner"})
    assert r.status_code == 200 and r.json()["role"] == "owner"


async def test_status_transitions_and_deactivation_revokes_sessions(client, tenant, worker_db, db) -> None:
    customer = await customer_tokens(client, tenant)
    uid = customer["user"]["id"]
    h = tenant.admin_headers
    assert (await client.post(f"{API}/users/{uid}/reactivate", headers=h)).status_code == 409
    assert (await client.post(f"{API}/users/{uid}/suspend", headers=h)).json()["status"] == "suspended"
    assert (await client.post(f"{API}/users/{uid}/reactivate", headers=h)).json()["status"] == "active"
    r = await client.get(f"{API}/auth/me", headers=bearer(customer["access_token"]))
    assert r.status_code == 200
    r = await client.post(f"{API}/users/{uid}/deactivate", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "deactivated"
    async with db.tenant_transaction(tenant.id) as s:
        live = (await s.execute(text("SELECT count(*) FROM refresh_tokens WHERE user_id = :u AND revoked_at IS NULL"),
                                {"u": uid})).scalar_one()
    assert live == 0
    r = await client.post(f"{API}/users/{uid}/reactivate", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition" and r.json()["allowed_transitions"] == []
    r = await client.post(f"{API}/users/{uid}/suspend", headers=h)
    assert r.status_code == 409
    types = [e["type"] for e in await outbox(worker_db, tenant.id)]
    assert {"user.suspended", "user.reactivated", "user.deactivated"} <= set(types)
    async with db.tenant_transaction(tenant.id) as s:
        actions = (await s.execute(text("SELECT action FROM audit_log WHERE resource_id = :u ORDER BY id"),
                                   {"u": uid})).scalars().all()
    assert actions[-3:] == ["user.suspended", "user.reactivated", "user.deactivated"]
    # an admin cannot deactivate the owner
    r = await client.post(f"{API}/users/{tenant.owner_id}/deactivate", headers=h)
    assert r.status_code == 403 and r.json()["code"] == "owner_protected"


async def test_staff_of_one_shop_cannot_see_another(client, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    r = await client.get(f"{API}/users/{b.owner_id}", headers=a.admin_headers)
    assert r.status_code == 404
    r = await client.post(f"{API}/users/{b.owner_id}/suspend", headers=a.admin_headers)
    assert r.status_code == 404
    ids = {u["id"] for u in (await client.get(f"{API}/users", headers=a.admin_headers)).json()["items"]}
    assert ids == {str(a.owner_id)}
