"""Accounts: sign-up, email verification, profile, passwords, staff invitations."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.notifications as notifications
from mercato.identity import repository
from mercato.identity.domain import normalize_phone
from mercato.identity.errors import EmailTaken, InvalidCurrentPassword, UserOnly
from mercato.identity.models import PlatformOperator, User
from mercato.identity.service.common import (
    as_actor,
    check_password,
    consume_user_token,
    issue_user_token,
    now,
    user_event,
)
from mercato.platform.security import Principal, hash_password, verify_password
from mercato.settings import get_settings


async def create_user(session: AsyncSession, *, tenant_id: uuid.UUID, email: str, role: str,
                      password: str | None = None, first_name: str | None = None, last_name: str | None = None,
                      email_verified: bool = False, locale: str | None = None) -> User:
    user = User(tenant_id=tenant_id, email=email.strip().lower(), role=role,
                password_hash=hash_password(password) if password else None,
                first_name=first_name, last_name=last_name, email_verified_at=now() if email_verified else None)
    if locale:
        user.locale = locale
    session.add(user)
    await session.flush()
    await session.refresh(user)
    return user


async def create_operator(session: AsyncSession, *, email: str, password: str) -> PlatformOperator:
    """A platform operator (platform scope; used by ``mercato operator create``)."""
    check_password(password)
    if await repository.get_operator_by_email(session, email) is not None:
        raise EmailTaken(field="email")
    op = PlatformOperator(email=email.strip().lower(), password_hash=hash_password(password))
    session.add(op)
    await session.flush()
    await session.refresh(op)
    return op


async def register(session: AsyncSession, *, tenant_id: uuid.UUID, email: str, password: str,
                   first_name: str | None, last_name: str | None, locale: str | None) -> User:
    check_password(password)
    if await repository.email_taken(session, email):
        raise EmailTaken(field="email")
    user = await create_user(session, tenant_id=tenant_id, email=email, role="customer", password=password,
                             first_name=first_name, last_name=last_name, locale=locale)
    await user_event(session, "user.registered", user, actor=as_actor(user), data={"email": user.email})
    await send_verification(session, user)
    return user


async def send_verification(session: AsyncSession, user: User) -> None:
    token = await issue_user_token(session, user, "email_verification", get_settings().email_token_ttl_seconds)
    await notifications.request_email(session, to=user.email, template="email_verification", locale=user.locale,
                                      user_id=user.id, context={"token": token, "first_name": user.first_name,
                                                                "tenant_id": str(user.tenant_id)})


async def verify_email(session: AsyncSession, token: str) -> User:
    user = await consume_user_token(session, token, "email_verification")
    if user.email_verified_at is None:
        user.email_verified_at = now()
        await session.flush()
        await user_event(session, "user.email_verified", user, actor=as_actor(user),
                         changes={"email_verified": {"from": False, "to": True}})
    return user


def require_user(principal: Principal) -> uuid.UUID:
    if principal.kind != "user" or principal.user_id is None:
        raise UserOnly()
    return principal.user_id


async def get_me(session: AsyncSession, principal: Principal) -> User:
    user = await repository.get_user(session, require_user(principal))
    if user is None:  # the resolver just loaded it; only a concurrent delete gets here
        raise UserOnly()
    return user


async def update_profile(session: AsyncSession, principal: Principal, changes: dict[str, Any]) -> User:
    user = await repository.get_user(session, require_user(principal), for_update=True)
    assert user is not None
    if changes.get("phone"):
        changes["phone"] = normalize_phone(changes["phone"])
    before = {k: getattr(user, k) for k in changes}
    for key, value in changes.items():
        if key == "locale" and value is None:
            continue  # locale is required; null means "leave as is"
        setattr(user, key, value)
    await session.flush()
    diff = audit.diff(before, {k: getattr(user, k) for k in changes})
    if diff:
        await user_event(session, "user.updated", user, changes=diff, data={"fields": sorted(diff)})
    return user


async def change_password(session: AsyncSession, principal: Principal, current: str, new: str) -> None:
    user = await repository.get_user(session, require_user(principal), for_update=True)
    assert user is not None
    if not user.password_hash or not verify_password(user.password_hash, current):
        raise InvalidCurrentPassword(field="current_password")
    check_password(new, field="new_password")
    user.password_hash = hash_password(new)
    # Every other session ends; the one that changed the password stays signed in.
    await repository.revoke_user_sessions(session, user_id=user.id, keep_family=principal.session_family)
    await repository.spend_user_tokens(session, user_id=user.id, purpose="password_reset")
    await session.flush()
    await user_event(session, "user.password_changed", user)


async def request_password_reset(session: AsyncSession, email: str) -> None:
    """Always succeeds from the caller's view: whether the account exists is never revealed."""
    user = await repository.get_user_by_email(session, email)
    if user is None or user.status != "active":
        return
    token = await issue_user_token(session, user, "password_reset", get_settings().password_reset_ttl_seconds)
    await notifications.request_email(session, to=user.email, template="password_reset", locale=user.locale,
                                      user_id=user.id, context={"token": token, "first_name": user.first_name,
                                                                "tenant_id": str(user.tenant_id)})
    await audit.record(session, action="user.password_reset_requested", resource_type="user", resource_id=user.id,
                       actor=as_actor(user), tenant_id=user.tenant_id)


async def reset_password(session: AsyncSession, token: str, password: str) -> User:
    check_password(password)
    user = await consume_user_token(session, token, "password_reset")
    user.password_hash = hash_password(password)
    # A reset means the old password may be known to someone else: end every session and other reset links.
    await repository.revoke_user_sessions(session, user_id=user.id)
    await repository.spend_user_tokens(session, user_id=user.id, purpose="password_reset")
    if user.email_verified_at is None:
        user.email_verified_at = now()  # the link reached the mailbox: that is proof enough
    await session.flush()
    await user_event(session, "user.password_reset", user, actor=as_actor(user))
    return user


async def invite_user(session: AsyncSession, *, tenant_id: uuid.UUID, email: str, role: str,
                      first_name: str | None = None, last_name: str | None = None,
                      invited_by: Principal | None = None) -> User:
    """Create a staff member without a password and mail them an invitation link."""
    if await repository.email_taken(session, email):
        raise EmailTaken(field="email")
    user = await create_user(session, tenant_id=tenant_id, email=email, role=role, first_name=first_name,
                             last_name=last_name)
    token = await issue_user_token(session, user, "invitation", get_settings().email_token_ttl_seconds)
    await notifications.request_email(session, to=user.email, template="staff_invitation", locale=user.locale,
                                      user_id=user.id, context={"token": token, "role": role,
                                                                "first_name": first_name,
                                                                "tenant_id": str(tenant_id)})
    await user_event(session, "user.invited", user, actor=invited_by, data={"email": user.email},
                     changes={"role": {"from": None, "to": role}})
    return user


async def accept_invitation(session: AsyncSession, token: str, password: str) -> User:
    check_password(password)
    user = await consume_user_token(session, token, "invitation")
    user.password_hash = hash_password(password)
    user.email_verified_at = user.email_verified_at or now()
    await session.flush()
    await user_event(session, "user.invitation_accepted", user, actor=as_actor(user))
    return user
