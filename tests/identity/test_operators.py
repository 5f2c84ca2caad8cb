"""Platform operators log in through the same API when no shop is named; MFA once enrolled."""

from __future__ import annotations

import uuid

from identity_helpers import PASSWORD, bearer, login, totp_now

import mercato.identity as identity

API = "/api/v1"


async def _operator(db) -> str:  # type: ignore[no-untyped-def]
    email = f"op{uuid.uuid4().hex[:8]}@mercato.test"
    async with db.platform_transaction() as s:
        await identity.create_operator(s, email=email, password=PASSWORD)
    return email


async def test_operator_login_refresh_mfa(client, db) -> None:
    email = await _operator(db)
    r = await login(client, None, email)
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["refresh_token"].startswith("mkrt_platform_")
    me = (await client.get(f"{API}/auth/me", headers=bearer(tokens["access_token"]))).json()
    assert me["kind"] == "operator" and me["email"] == email and "platform:tenants" in me["permissions"]
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200
    reuse = await client.post(f"{API}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json()["code"] == "refresh_token_reused"
    assert (await client.get(f"{API}/auth/me", headers=bearer(r.json()["access_token"]))).status_code == 401

    # Enrol MFA; from then on the operator's login needs a code.
    access = (await login(client, None, email)).json()["access_token"]
    setup = (await client.post(f"{API}/auth/mfa/setup", headers=bearer(access))).json()
    r = await client.post(f"{API}/auth/mfa/confirm", headers=bearer(access), json={"code": totp_now(setup["secret"])})
    assert r.status_code == 200, r.text
    r = await login(client, None, email)
    assert r.json()["mfa_required"] is True
    r = await client.post(f"{API}/auth/mfa/verify", json={"challenge_token": r.json()["challenge_token"],
                                                         "code": totp_now(setup["secret"], 1)})
    assert r.status_code == 200, r.text
    intro = (await client.get(f"{API}/auth/verify", headers=bearer(r.json()["access_token"]))).json()
    assert intro["active"] is True and intro["kind"] == "operator"
    # the operator can use the platform API
    assert (await client.get(f"{API}/tenants", headers=bearer(r.json()["access_token"]))).status_code == 200
    assert (await client.post(f"{API}/auth/logout", headers=bearer(r.json()["access_token"]))).status_code == 204
    assert (await client.get(f"{API}/tenants", headers=bearer(r.json()["access_token"]))).status_code == 401


async def test_operator_password_wrong(client, db) -> None:
    email = await _operator(db)
    r = await login(client, None, email, "not the password at all")
    assert r.status_code == 401 and r.json()["code"] == "invalid_credentials"
