"""Helpers shared by the identity use cases: one-time tokens, events + audit in one call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.identity import repository
from mercato.identity.errors import InvalidOneTimeToken, WeakPassword
from mercato.identity.models import User
from mercato.platform.errors import InvalidToken
from mercato.platform.events import publish
from mercato.platform.security import Principal, parse_scoped_token, password_problems, scoped_token, token_digest
from mercato.settings import get_settings

#: One-time token kinds: purpose → prefix. The tenant travels inside the token (``security.scoped_token``),
#: so a link in an email works without any other hint of the shop.
TOKEN_PREFIXES = {"email_verification": "mkev", "password_reset": "mkpr", "invitation": "mkin"}


def now() -> datetime:
    return datetime.now(UTC)


def check_password(password: str, field: str = "password") -> None:
    problems = password_problems(password, get_settings().password_min_length)
    if problems:
        raise WeakPassword("password " + ", ".join(problems), field=field)


async def issue_user_token(session: AsyncSession, user: User, purpose: str, ttl_seconds: int) -> str:
    token = scoped_token(TOKEN_PREFIXES[purpose], user.tenant_id)
    await repository.insert_user_token(session, tenant_id=user.tenant_id, user_id=user.id, purpose=purpose,
                                       token_hash=token_digest(token), expires_at=now() + timedelta(seconds=ttl_seconds))
    return token


def one_time_token_tenant(token: str, purpose: str) -> uuid.UUID:
    try:
        tenant_id = parse_scoped_token(token, TOKEN_PREFIXES[purpose])
    except InvalidToken as exc:
        raise InvalidOneTimeToken(field="token") from exc
    if tenant_id is None:
        raise InvalidOneTimeToken(field="token")
    return tenant_id


async def consume_user_token(session: AsyncSession, token: str, purpose: str) -> User:
    user_id = await repository.consume_user_token(session, token_hash=token_digest(token), purpose=purpose)
    user = await repository.get_user(session, user_id, for_update=True) if user_id else None
    if user is None:
        raise InvalidOneTimeToken(field="token")
    return user


def as_actor(user: User) -> Principal:
    return Principal(kind="user", tenant_id=user.tenant_id, user_id=user.id, roles=(user.role,))


async def user_event(session: AsyncSession, event: str, user: User, *, data: dict[str, Any] | None = None,
                     changes: dict[str, Any] | None = None, actor: Principal | None = None) -> None:
    """The audit row and the outbox event of a change to a user, in the caller's transaction."""
    await audit.record(session, action=event, resource_type="user", resource_id=user.id, changes=changes,
                       actor=actor, tenant_id=user.tenant_id)
    await publish(session, event, aggregate_type="user", aggregate_id=user.id, tenant_id=user.tenant_id,
                  data={"user_id": str(user.id), "role": user.role, **(data or {})})
