"""API keys: secret (server-to-server, acting with a role) and publishable (storefront scope)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, insert
from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.identity import repository
from mercato.identity.auth import forget_api_key
from mercato.identity.domain import SECRET_KEY_ROLES
from mercato.identity.errors import ApiKeyNotFound, InvalidRole
from mercato.identity.models import ApiKey
from mercato.platform.events import publish
from mercato.platform.security import (
    PUBLISHABLE_KEY_PREFIX,
    SECRET_KEY_PREFIX,
    Principal,
    scoped_token,
    token_digest,
)


@dataclass(frozen=True)
class IssuedKey:
    id: uuid.UUID
    token: str  # shown once
    display_prefix: str


async def issue_api_key(session: AsyncSession, *, tenant_id: uuid.UUID, name: str, kind: str,
                        role: str | None = None, created_by: uuid.UUID | None = None) -> IssuedKey:
    prefix = SECRET_KEY_PREFIX if kind == "secret" else PUBLISHABLE_KEY_PREFIX
    token = scoped_token(prefix, tenant_id)
    key_id = uuid.uuid4()
    await session.execute(insert(ApiKey).values(
        id=key_id, tenant_id=tenant_id, name=name, kind=kind, role=role if kind == "secret" else None,
        key_hash=token_digest(token), display_prefix=token[:16], created_by=created_by,
    ))
    return IssuedKey(id=key_id, token=token, display_prefix=token[:16])


async def create_key(session: AsyncSession, actor: Principal, *, name: str, kind: str,
                     role: str | None) -> tuple[ApiKey, str]:
    if kind == "secret":
        if role is None or role not in SECRET_KEY_ROLES:
            raise InvalidRole("secret keys need a role: admin, merchant or support", field="role")
    elif role is not None:
        raise InvalidRole("publishable keys have the storefront scope and no role", field="role")
    assert actor.tenant_id is not None
    issued = await issue_api_key(session, tenant_id=actor.tenant_id, name=name, kind=kind, role=role,
                                 created_by=actor.user_id or actor.api_key_id)
    key = await repository.get_api_key(session, issued.id)
    assert key is not None
    await audit.record(session, action="api_key.created", resource_type="api_key", resource_id=key.id, actor=actor,
                       changes={"name": {"from": None, "to": name}, "kind": {"from": None, "to": kind},
                                "role": {"from": None, "to": role}})
    await publish(session, "api_key.created", aggregate_type="api_key", aggregate_id=key.id,
                  data={"api_key_id": str(key.id), "name": name, "kind": kind, "role": role,
                        "display_prefix": key.display_prefix})
    return key, issued.token


async def revoke_key(session: AsyncSession, actor: Principal, key_id: uuid.UUID) -> ApiKey:
    key = await repository.get_api_key(session, key_id)
    if key is None:
        raise ApiKeyNotFound()
    if key.revoked_at is None:
        key.revoked_at = func.now()
        await session.flush()
        forget_api_key(key.id)  # this process stops accepting it at once; others within the lookup TTL
        await session.refresh(key)
        await audit.record(session, action="api_key.revoked", resource_type="api_key", resource_id=key.id,
                           actor=actor, changes={"revoked": {"from": False, "to": True}})
        await publish(session, "api_key.revoked", aggregate_type="api_key", aggregate_id=key.id,
                      data={"api_key_id": str(key.id), "kind": key.kind})
    return key
