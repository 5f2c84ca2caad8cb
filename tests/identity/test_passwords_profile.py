"""Password change and reset, and the profile (/users/me)."""

from __future__ import annotations

from identity_helpers import PASSWORD, bearer, customer_tokens, login, mailed_token, outbox
from sqlalchemy import text

API = "/api/v1"
NEW = "a brand new passphrase"


async def test_change_password_ends_other_sessions(client, tenant, worker_db) -> None:
    tokens = await customer_tokens(client, tenant)
    other = (await login(client, tenant, tokens["user"]["email"])).json()
    auth = bearer(tokens["access_token"])
    r = await client.post(f"{API}/auth/password/change", headers=auth,
                          json={"current_password": "wrong one, surely", "new_password": NEW})
    assert r.status_code == 422 and r.json()["code"] == "invalid_current_password"
    r = await client.post(f"{API}/auth/password/change", headers=auth,
                          json={"current_password": PASSWORD, "new_password": "password"})
    assert r.status_code == 422 and r.json()["code"] == "weak_password"
    r = await client.post(f"{API}/auth/password/change", headers=auth,
                          json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 204
    assert (await client.get(f"{API}/auth/me", headers=auth)).status_code == 200  # this session stays
    assert (await client.get(f"{API}/auth/me", headers=bearer(other["access_token"]))).status_code == 401
    assert (await login(client, tenant, tokens["user"]["email"])).status_code == 401
    assert (await login(client, tenant, tokens["user"]["email"], NEW)).status_code == 200
    assert "user.password_changed" in [e["type"] for e in await outbox(worker_db, tenant.id)]


async def test_reset_flow_is_single_use_and_does_not_enumerate(client, tenant, worker_db, db) -> None:
    tokens = await customer_tokens(client, tenant)
    email = tokens["user"]["email"]
    unknown = await client.post(f"{API}/auth/password/reset-request", headers=tenant.host_headers,
                                json={"email": "nobody@example.com"})
    known = await client.post(f"{API}/auth/password/reset-request", headers=tenant.host_headers,
                              json={"email": email})
    assert unknown.status_code == known.status_code == 202 and unknown.content == known.content == b""
    token = await mailed_token(worker_db, tenant.id, "password_reset", email)
    assert token.startswith("mkpr_")
    r = await client.post(f"{API}/auth/password/reset", json={"token": token, "password": "123"})
    assert r.status_code == 422  # weak: and the token is not spent by the failure
    r = await client.post(f"{API}/auth/password/reset", json={"token": token, "password": NEW})
    assert r.status_code == 204
    r = await client.post(f"{API}/auth/password/reset", json={"token": token, "password": NEW + "x"})
    assert r.status_code == 400 and r.json()["code"] == "invalid_token"
    assert (await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))).status_code == 401
    assert (await login(client, tenant, email, NEW)).status_code == 200

    # expired after the configured hour
    await client.post(f"{API}/auth/password/reset-request", headers=tenant.host_headers, json={"email": email})
    token = await mailed_token(worker_db, tenant.id, "password_reset", email)
    async with db.tenant_transaction(tenant.id) as s:
        ttl = (await s.execute(text("SELECT extract(epoch FROM expires_at - created_at) FROM user_tokens "
                                    "WHERE purpose = 'password_reset' ORDER BY created_at DESC LIMIT 1"))).scalar_one()
        await s.execute(text("UPDATE user_tokens SET expires_at = now() - interval '1 second'"))
    assert round(float(ttl)) == 3600
    r = await client.post(f"{API}/auth/password/reset", json={"token": token, "password": NEW + "!"})
    assert r.status_code == 400
    r = await client.post(f"{API}/auth/password/reset-request", json={"email": email})
    assert r.status_code == 400 and r.json()["code"] == "tenant_required"


async def test_profile_read_and_update(client, tenant, worker_db) -> None:
    tokens = await customer_tokens(client, tenant)
    auth = bearer(tokens["access_token"])
    r = await client.get(f"{API}/users/me", headers=auth)
    assert r.status_code == 200 and r.json()["id"] == tokens["user"]["id"]
    r = await client.patch(f"{API}/users/me", headers=auth,
                           json={"first_name": "Ann", "last_name": "Lee", "phone": "+1 (415) 555-2671", "locale": "fr"})
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == "+14155552671" and r.json()["first_name"] == "Ann" and r.json()["locale"] == "fr"
    r = await client.patch(f"{API}/users/me", headers=auth, json={"phone": "555-2671"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_phone"
    r = await client.patch(f"{API}/users/me", headers=auth, json={"role": "owner"})
    assert r.status_code == 422
    r = await client.patch(f"{API}/users/me", headers=auth, json={"phone": None})
    assert r.status_code == 200 and r.json()["phone"] is None
    assert (await client.get(f"{API}/users/me", headers=tenant.admin_headers)).status_code == 403  # keys: no profile
    assert (await client.get(f"{API}/users/me")).status_code == 401
    assert "user.updated" in [e["type"] for e in await outbox(worker_db, tenant.id)]
