"""Sign-up, email verification, login, refresh rotation, logout, /auth/me and token introspection — over HTTP."""

from __future__ import annotations

import time

import jwt
from identity_helpers import PASSWORD, bearer, customer_tokens, login, mailed_token, outbox, register
from sqlalchemy import text

from mercato.platform.security import hash_password

API = "/api/v1"


async def test_register_sends_verification_mail_and_verify_email_confirms(client, tenant, worker_db) -> None:
    user = await register(client, tenant, email="Ann@Example.com", first_name="Ann")
    assert user["email"] == "ann@example.com" and user["role"] == "customer" and user["email_verified_at"] is None
    assert "password" not in {k for k in user if k != "password"} and "password_hash" not in user
    events = [e["type"] for e in await outbox(worker_db, tenant.id)]
    assert "user.registered" in events and "notification.requested" in events
    token = await mailed_token(worker_db, tenant.id, "email_verification", "ann@example.com")
    assert token.startswith("mkev_")

    r = await client.post(f"{API}/auth/verify-email", json={"token": token})  # the token names the shop
    assert r.status_code == 200, r.text
    assert r.json()["email_verified_at"] is not None
    assert "user.email_verified" in [e["type"] for e in await outbox(worker_db, tenant.id)]
    again = await client.post(f"{API}/auth/verify-email", json={"token": token})
    assert again.status_code == 400 and again.json()["code"] == "invalid_token"
    bogus = await client.post(f"{API}/auth/verify-email", json={"token": "nonsense"})
    assert bogus.status_code == 400


async def test_register_rules(client, tenant) -> None:
    await register(client, tenant, email="dup@example.com")
    r = await client.post(f"{API}/auth/register", headers=tenant.host_headers,
                          json={"email": "DUP@example.com", "password": PASSWORD})
    assert r.status_code == 409 and r.json()["code"] == "email_taken"
    r = await client.post(f"{API}/auth/register", headers=tenant.host_headers,
                          json={"email": "weak@example.com", "password": "password123"})
    assert r.status_code == 422 and r.json()["code"] == "weak_password"
    assert r.json()["errors"][0]["field"] == "password"
    r = await client.post(f"{API}/auth/register", headers=tenant.host_headers,
                          json={"email": "short@example.com", "password": "short"})
    assert r.status_code == 422 and r.json()["code"] == "weak_password"
    r = await client.post(f"{API}/auth/register", headers=tenant.host_headers,
                          json={"email": "x@example.com", "password": PASSWORD, "role": "owner"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "unknown_field"
    r = await client.post(f"{API}/auth/register", json={"email": "x@example.com", "password": PASSWORD})
    assert r.status_code == 400 and r.json()["code"] == "tenant_required"
    # a storefront (publishable key) names the shop too
    r = await client.post(f"{API}/auth/register", headers=tenant.storefront_headers,
                          json={"email": "pk@example.com", "password": PASSWORD})
    assert r.status_code == 201


async def test_same_email_in_two_shops_is_two_accounts(client, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    await register(client, a, email="both@example.com")
    await register(client, b, email="both@example.com", password="another fine passphrase")
    assert (await login(client, a, "both@example.com")).status_code == 200
    assert (await login(client, b, "both@example.com")).status_code == 401
    assert (await login(client, b, "both@example.com", "another fine passphrase")).status_code == 200


async def test_login_returns_tokens_and_me(client, tenant, settings) -> None:
    tokens = await customer_tokens(client, tenant)
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == settings.access_token_ttl_seconds
    assert tokens["refresh_token"].startswith("mkrt_")
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["sub"] == tokens["user"]["id"] and claims["tid"] == str(tenant.id)
    assert claims["typ"] == "access" and claims["kind"] == "user" and claims["roles"] == ["customer"]
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl_seconds

    r = await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["kind"] == "user" and me["email"] == tokens["user"]["email"] and me["roles"] == ["customer"]
    assert "addresses" in me["permissions"] and "users:read" not in me["permissions"]


async def test_wrong_password_and_unknown_account_look_the_same(client, tenant) -> None:
    user = await register(client, tenant)
    wrong = await login(client, tenant, user["email"], "not the right password")
    unknown = await login(client, tenant, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"


async def test_refresh_rotates_and_reuse_revokes_the_family(client, tenant, db) -> None:
    tokens = await customer_tokens(client, tenant)
    r1 = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r1.status_code == 200, r1.text
    second = r1.json()
    assert second["refresh_token"] != tokens["refresh_token"]
    assert (await client.get(f"{API}/auth/me", headers=bearer(second["access_token"]))).status_code == 200

    # The first token again: somebody copied it. The whole family dies, including the newest token.
    reuse = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["code"] == "refresh_token_reused"
    r3 = await client.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r3.status_code == 401
    me = await client.get(f"{API}/auth/me", headers=bearer(second["access_token"]))
    assert me.status_code == 401 and me.json()["code"] == "session_revoked"
    # hashed at rest: the raw token is nowhere in the table
    async with db.tenant_transaction(tenant.id) as s:
        hashes = (await s.execute(text("SELECT token_hash FROM refresh_tokens"))).scalars().all()
    assert len(hashes) == 2 and tokens["refresh_token"] not in hashes and all(len(h) == 64 for h in hashes)


async def test_refresh_rejects_garbage_and_other_shops(client, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    tokens = await customer_tokens(client, a)
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": "mkrt_platform_nope"})
    assert r.status_code == 401
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": "garbage"})
    assert r.status_code == 401
    r = await client.post(f"{API}/auth/refresh", headers=b.host_headers,
                          json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 403 and r.json()["code"] == "tenant_mismatch"


async def test_expired_refresh_token(client, tenant, db) -> None:
    tokens = await customer_tokens(client, tenant)
    async with db.tenant_transaction(tenant.id) as s:
        await s.execute(text("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'"))
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401 and r.json()["reason"] == "expired"


async def test_logout_revokes_the_session(client, tenant) -> None:
    tokens = await customer_tokens(client, tenant)
    other = await login(client, tenant, tokens["user"]["email"])  # a second device
    r = await client.post(f"{API}/auth/logout", headers=bearer(tokens["access_token"]))
    assert r.status_code == 204
    assert (await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))).status_code == 401
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    # the other device's session is untouched
    assert (await client.get(f"{API}/auth/me", headers=bearer(other.json()["access_token"]))).status_code == 200
    assert (await client.post(f"{API}/auth/logout")).status_code == 401


async def test_token_of_shop_a_cannot_be_used_on_shop_b(client, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    tokens = await customer_tokens(client, a)
    r = await client.get(f"{API}/auth/me", headers={**bearer(tokens["access_token"]), **b.host_headers})
    assert r.status_code == 403 and r.json()["code"] == "tenant_mismatch"


async def test_introspection(client, tenant, settings) -> None:
    tokens = await customer_tokens(client, tenant)
    r = await client.get(f"{API}/auth/verify", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200
    body = r.json()
    assert body["active"] is True and body["kind"] == "user" and body["subject"] == tokens["user"]["id"]
    assert body["tenant_id"] == str(tenant.id) and body["roles"] == ["customer"] and body["exp"] > time.time()

    now = int(time.time())
    expired = jwt.encode({"iss": "mercato", "sub": tokens["user"]["id"], "tid": str(tenant.id), "typ": "access",
                          "iat": now - 100, "exp": now - 10}, settings.secret_key.get_secret_value(), "HS256")
    for token, reason in ((expired, "expired"), ("garbage", "invalid"),
                          (tokens["access_token"][:-3] + "abc", "invalid")):
        r = await client.get(f"{API}/auth/verify", headers=bearer(token))
        assert r.status_code == 200 and r.json() == {**r.json(), "active": False, "reason": reason}
    r = await client.get(f"{API}/auth/verify")
    assert r.status_code == 200 and r.json()["active"] is False

    # API keys introspect too
    r = await client.get(f"{API}/auth/verify", headers=tenant.admin_headers)
    assert r.json()["active"] is True and r.json()["kind"] == "secret_key" and r.json()["roles"] == ["admin"]
    r = await client.get(f"{API}/auth/verify", headers=tenant.storefront_headers)
    assert r.json()["active"] is True and r.json()["kind"] == "publishable_key"

    await client.post(f"{API}/auth/logout", headers=bearer(tokens["access_token"]))
    r = await client.get(f"{API}/auth/verify", headers=bearer(tokens["access_token"]))
    assert r.json()["active"] is False and r.json()["reason"] == "revoked"


async def test_password_rehashed_on_login_when_parameters_change(client, tenant, db) -> None:
    from mercato.platform import security

    user = await register(client, tenant)
    async with db.tenant_transaction(tenant.id) as s:
        old = (await s.execute(text("SELECT password_hash FROM users WHERE email = :e"), {"e": user["email"]})).scalar_one()
    assert "m=1024,t=1" in old
    security.configure_password_hasher(time_cost=2, memory_cost=2048, parallelism=1)
    try:
        assert (await login(client, tenant, user["email"])).status_code == 200
    finally:
        security.configure_password_hasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with db.tenant_transaction(tenant.id) as s:
        new = (await s.execute(text("SELECT password_hash FROM users WHERE email = :e"), {"e": user["email"]})).scalar_one()
    assert new != old and "m=2048,t=2" in new and new.startswith("$argon2id$")
    assert (await login(client, tenant, user["email"])).status_code == 200
    assert hash_password("x").startswith("$argon2id$")


async def test_suspended_account_cannot_log_in_or_use_tokens(client, tenant) -> None:
    tokens = await customer_tokens(client, tenant)
    r = await client.post(f"{API}/users/{tokens['user']['id']}/suspend", headers=tenant.admin_headers)
    assert r.status_code == 200, r.text
    me = await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 403 and me.json()["code"] == "account_inactive"
    r = await login(client, tenant, tokens["user"]["email"])
    assert r.status_code == 403 and r.json()["code"] == "account_inactive"
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 403
