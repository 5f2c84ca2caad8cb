"""TOTP MFA: mandatory enrolment for owner/admin at login, second step, recovery codes, opt-in and disable."""

from __future__ import annotations

import base64

import jwt
import pyotp
from identity_helpers import PASSWORD, bearer, customer_tokens, login, outbox, owner_tokens, totp_now
from sqlalchemy import text

API = "/api/v1"


async def test_owner_must_enrol_then_logs_in_with_a_code(client, tenant, worker_db, db) -> None:
    r = await login(client, tenant, tenant.owner_email, tenant.owner_password)
    body = r.json()
    assert r.status_code == 200 and "access_token" not in body
    assert body["mfa_required"] is True and body["mfa_enrollment_required"] is True
    challenge = body["challenge_token"]
    claims = jwt.decode(challenge, options={"verify_signature": False})
    assert claims["typ"] == "mfa" and claims["purpose"] == "enroll"
    # a challenge is not an access token
    assert (await client.get(f"{API}/auth/me", headers=bearer(challenge))).status_code == 401
    # nor can it skip enrolment
    r = await client.post(f"{API}/auth/mfa/verify", json={"challenge_token": challenge, "code": "123456"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_challenge"

    r = await client.post(f"{API}/auth/mfa/setup", json={"challenge_token": challenge})
    assert r.status_code == 200
    setup = r.json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/") and setup["secret"] in setup["otpauth_uri"]
    assert base64.b64decode(setup["qr_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    wrong = await client.post(f"{API}/auth/mfa/confirm", json={"challenge_token": challenge, "code": "000000"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_mfa_code"
    confirm_code = totp_now(setup["secret"])
    r = await client.post(f"{API}/auth/mfa/confirm", json={"challenge_token": challenge, "code": confirm_code})
    assert r.status_code == 200, r.text
    confirmed = r.json()
    assert len(confirmed["recovery_codes"]) == 10 and confirmed["tokens"]["access_token"]
    me = await client.get(f"{API}/auth/me", headers=bearer(confirmed["tokens"]["access_token"]))
    assert me.json()["mfa_enabled"] is True and me.json()["roles"] == ["owner"]
    assert "user.mfa_enabled" in [e["type"] for e in await outbox(worker_db, tenant.id)]
    async with db.tenant_transaction(tenant.id) as s:
        stored = (await s.execute(text("SELECT code_hash FROM mfa_recovery_codes"))).scalars().all()
    assert len(stored) == 10 and not set(stored) & set(confirmed["recovery_codes"])

    # Next login: password, then code.
    r = await login(client, tenant, tenant.owner_email, tenant.owner_password)
    assert r.json()["mfa_required"] is True and r.json()["mfa_enrollment_required"] is False
    challenge = r.json()["challenge_token"]
    # the very code used for confirmation: a replay is refused (even if the clock moved on a step
    # since, the code is still inside the accepted window, so only replay protection refuses it)
    r = await client.post(f"{API}/auth/mfa/verify", json={"challenge_token": challenge, "code": confirm_code})
    assert r.status_code == 401
    r = await client.post(f"{API}/auth/mfa/verify",
                          json={"challenge_token": challenge, "code": totp_now(setup["secret"], +1)})
    assert r.status_code == 200, r.text
    assert (await client.get(f"{API}/auth/me", headers=bearer(r.json()["access_token"]))).status_code == 200
    # the enrolment challenge is spent once MFA is on
    r = await client.post(f"{API}/auth/mfa/setup", json={"challenge_token": claims and body["challenge_token"]})
    assert r.status_code == 409 and r.json()["code"] == "mfa_already_enabled"


async def test_recovery_codes_are_single_use(client, tenant) -> None:
    enrolled = await owner_tokens(client, tenant)
    code = enrolled["recovery_codes"][0]
    for expected in (200, 401):
        r = await login(client, tenant, tenant.owner_email, tenant.owner_password)
        r = await client.post(f"{API}/auth/mfa/verify",
                              json={"challenge_token": r.json()["challenge_token"], "recovery_code": code.upper()})
        assert r.status_code == expected, r.text
    r = await login(client, tenant, tenant.owner_email, tenant.owner_password)
    r = await client.post(f"{API}/auth/mfa/verify", json={"challenge_token": r.json()["challenge_token"],
                                                         "code": "123456", "recovery_code": code})
    assert r.status_code == 422


async def test_owner_cannot_disable_mfa(client, tenant) -> None:
    enrolled = await owner_tokens(client, tenant)
    r = await client.post(f"{API}/auth/mfa/disable", headers=bearer(enrolled["access_token"]),
                          json={"password": tenant.owner_password, "code": totp_now(enrolled["secret"], 1)})
    assert r.status_code == 409 and r.json()["code"] == "mfa_mandatory"


async def test_customer_opts_in_and_out(client, tenant) -> None:
    tokens = await customer_tokens(client, tenant)
    auth = bearer(tokens["access_token"])
    setup = (await client.post(f"{API}/auth/mfa/setup", headers=auth)).json()
    r = await client.post(f"{API}/auth/mfa/confirm", headers=auth, json={"code": totp_now(setup["secret"])})
    assert r.status_code == 200 and r.json()["tokens"] is None and len(r.json()["recovery_codes"]) == 10
    r = await login(client, tenant, tokens["user"]["email"])
    assert r.json()["mfa_required"] is True  # enrolled: MFA now applies to this customer too
    r = await client.post(f"{API}/auth/mfa/disable", headers=auth,
                          json={"password": "wrong password!!", "code": totp_now(setup["secret"], 1)})
    assert r.status_code == 422 and r.json()["code"] == "invalid_current_password"
    r = await client.post(f"{API}/auth/mfa/disable", headers=auth,
                          json={"password": PASSWORD, "code": totp_now(setup["secret"], 1)})
    assert r.status_code == 204
    r = await login(client, tenant, tokens["user"]["email"])
    assert "access_token" in r.json()
    r = await client.post(f"{API}/auth/mfa/confirm", headers=auth, json={"code": "123456"})
    assert r.status_code == 409 and r.json()["code"] == "mfa_not_set_up"


async def test_challenge_tokens_are_checked(client, tenant, settings) -> None:
    for token in ("garbage", jwt.encode({"sub": "x", "typ": "mfa"}, "a-wrong-secret-that-is-long-enough-for-hs256", "HS256")):
        r = await client.post(f"{API}/auth/mfa/verify", json={"challenge_token": token, "code": "123456"})
        assert r.status_code == 401 and r.json()["code"] == "invalid_challenge"
    assert (await client.post(f"{API}/auth/mfa/setup")).status_code == 401
    assert pyotp.TOTP(pyotp.random_base32()).now()
