"""Identity test helpers: sign-up/login factories, MFA enrolment, and the mail the outbox would send."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pyotp
from sqlalchemy import text

PASSWORD = "a perfectly fine passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def outbox(worker_db, tenant_id: uuid.UUID, type_: str | None = None) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Events a tenant recorded (read with the relay's role: the API role may only append)."""
    async with worker_db.transaction() as s:
        rows = (await s.execute(text(
            "SELECT type, aggregate_id, data FROM outbox WHERE tenant_id = :t ORDER BY id"), {"t": tenant_id})).all()
    return [{"type": r.type, "aggregate_id": r.aggregate_id, "data": r.data} for r in rows
            if type_ is None or r.type == type_]


async def mailed_token(worker_db, tenant_id: uuid.UUID, template: str, to: str) -> str:  # type: ignore[no-untyped-def]
    mails = [e["data"] for e in await outbox(worker_db, tenant_id, "notification.requested")
             if e["data"]["template"] == template and e["data"]["to"] == to]
    assert mails, f"no {template} mail to {to}"
    return str(mails[-1]["context"]["token"])


async def register(client: httpx.AsyncClient, tenant, email: str | None = None,  # type: ignore[no-untyped-def]
                   password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
    email = email or f"c{uuid.uuid4().hex[:10]}@example.com"
    r = await client.post("/api/v1/auth/register", headers=tenant.host_headers,
                          json={"email": email, "password": password, **extra})
    assert r.status_code == 201, r.text
    return {**r.json(), "password": password}


async def login(client: httpx.AsyncClient, tenant, email: str, password: str = PASSWORD) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = tenant.host_headers if tenant is not None else {}
    return await client.post("/api/v1/auth/login", headers=headers, json={"email": email, "password": password})


async def customer_tokens(client: httpx.AsyncClient, tenant) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    user = await register(client, tenant)
    r = await login(client, tenant, user["email"])
    assert r.status_code == 200, r.text
    return {**r.json(), "user": user}


def totp_now(secret: str, offset: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(datetime.now(UTC)) + offset)


async def enroll_via_challenge(client: httpx.AsyncClient, challenge: str) -> dict[str, Any]:
    r = await client.post("/api/v1/auth/mfa/setup", json={"challenge_token": challenge})
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    r = await client.post("/api/v1/auth/mfa/confirm", json={"challenge_token": challenge, "code": totp_now(secret)})
    assert r.status_code == 200, r.text
    return {**r.json(), "secret": secret}


async def staff_tokens(client: httpx.AsyncClient, tenant, email: str, password: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Log in an owner/admin, enrolling MFA on the way (mandatory for them)."""
    r = await login(client, tenant, email, password)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mfa_required"] is True and body["mfa_enrollment_required"] is True
    enrolled = await enroll_via_challenge(client, body["challenge_token"])
    return {**enrolled["tokens"], "secret": enrolled["secret"], "recovery_codes": enrolled["recovery_codes"]}


async def owner_tokens(client: httpx.AsyncClient, tenant) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return await staff_tokens(client, tenant, tenant.owner_email, tenant.owner_password)
