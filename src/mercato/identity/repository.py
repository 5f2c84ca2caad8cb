"""Every query of the identity module. Tenant rows are confined by RLS (the request's
transaction is bound to the tenant); queries still name what they mean."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.identity.models import (
    Address,
    ApiKey,
    MfaRecoveryCode,
    OperatorRecoveryCode,
    OperatorRefreshToken,
    PlatformOperator,
    RefreshToken,
    User,
    UserToken,
)

# --------------------------------------------------------------------------- users


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
    if not for_update:
        # The principal resolver already loaded the caller into this session: no second query.
        return await session.get(User, user_id)
    stmt = select(User).where(User.id == user_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
            ).scalar_one_or_none()


async def email_taken(session: AsyncSession, email: str) -> bool:
    return bool((await session.execute(select(exists().where(func.lower(User.email) == email.strip().lower())))
                 ).scalar())


async def list_users(session: AsyncSession, *, limit: int, offset: int, after: tuple[datetime, uuid.UUID] | None,
                     role: str | None, status: str | None) -> list[User]:
    stmt = select(User).order_by(User.created_at, User.id).limit(limit + 1)
    if role:
        stmt = stmt.where(User.role == role)
    if status:
        stmt = stmt.where(User.status == status)
    if after:
        stmt = stmt.where(tuple_(User.created_at, User.id) > tuple_(*after))
    else:
        stmt = stmt.offset(offset)
    return list((await session.execute(stmt)).scalars())


# --------------------------------------------------------------------------- one-time tokens


async def insert_user_token(session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID, purpose: str,
                            token_hash: str, expires_at: datetime) -> None:
    await session.execute(insert(UserToken).values(tenant_id=tenant_id, user_id=user_id, purpose=purpose,
                                                   token_hash=token_hash, expires_at=expires_at))


async def consume_user_token(session: AsyncSession, *, token_hash: str, purpose: str) -> uuid.UUID | None:
    """Spend a token atomically: one UPDATE, so two concurrent uses cannot both succeed."""
    return (await session.execute(
        update(UserToken)
        .where(UserToken.token_hash == token_hash, UserToken.purpose == purpose, UserToken.used_at.is_(None),
               UserToken.expires_at > func.now())
        .values(used_at=func.now()).returning(UserToken.user_id)
    )).scalar_one_or_none()


async def spend_user_tokens(session: AsyncSession, *, user_id: uuid.UUID, purpose: str) -> None:
    await session.execute(update(UserToken).where(UserToken.user_id == user_id, UserToken.purpose == purpose,
                                                  UserToken.used_at.is_(None)).values(used_at=func.now()))


# --------------------------------------------------------------------------- refresh tokens


def _refresh_model(operator: bool) -> Any:
    return OperatorRefreshToken if operator else RefreshToken


async def insert_refresh_token(session: AsyncSession, *, operator: bool, values: dict[str, Any]) -> None:
    await session.execute(insert(_refresh_model(operator)).values(**values))


async def claim_refresh_token(session: AsyncSession, *, operator: bool, token_hash: str) -> Any:
    """Mark a live refresh token used and return it; None if it is unknown, spent, revoked or expired."""
    m = _refresh_model(operator)
    owner = m.operator_id if operator else m.user_id
    return (await session.execute(
        update(m).where(m.token_hash == token_hash, m.used_at.is_(None), m.revoked_at.is_(None),
                        m.expires_at > func.now())
        .values(used_at=func.now()).returning(m.family_id, owner.label("owner_id"))
    )).one_or_none()


async def find_refresh_token(session: AsyncSession, *, operator: bool, token_hash: str) -> Any:
    m = _refresh_model(operator)
    owner = m.operator_id if operator else m.user_id
    return (await session.execute(
        select(m.family_id, owner.label("owner_id"), m.used_at, m.revoked_at, m.expires_at)
        .where(m.token_hash == token_hash)
    )).one_or_none()


async def revoke_family(session: AsyncSession, *, operator: bool, family_id: uuid.UUID) -> int:
    m = _refresh_model(operator)
    res = await session.execute(update(m).where(m.family_id == family_id, m.revoked_at.is_(None))
                                .values(revoked_at=func.now()))
    return res.rowcount  # type: ignore[attr-defined, no-any-return]


async def revoke_user_sessions(session: AsyncSession, *, user_id: uuid.UUID,
                               keep_family: uuid.UUID | None = None) -> None:
    stmt = update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    if keep_family is not None:
        stmt = stmt.where(RefreshToken.family_id != keep_family)
    await session.execute(stmt.values(revoked_at=func.now()))


async def revoke_operator_sessions(session: AsyncSession, *, operator_id: uuid.UUID,
                                   keep_family: uuid.UUID | None = None) -> None:
    m = OperatorRefreshToken
    stmt = update(m).where(m.operator_id == operator_id, m.revoked_at.is_(None))
    if keep_family is not None:
        stmt = stmt.where(m.family_id != keep_family)
    await session.execute(stmt.values(revoked_at=func.now()))


def family_revoked_clause(family_id: uuid.UUID, *, operator: bool) -> Any:
    m = _refresh_model(operator)
    return exists().where(m.family_id == family_id, m.revoked_at.is_not(None))


# --------------------------------------------------------------------------- operators


async def get_operator(session: AsyncSession, operator_id: uuid.UUID, *,
                       for_update: bool = False) -> PlatformOperator | None:
    stmt = select(PlatformOperator).where(PlatformOperator.id == operator_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_operator_by_email(session: AsyncSession, email: str) -> PlatformOperator | None:
    return (await session.execute(select(PlatformOperator).where(
        func.lower(PlatformOperator.email) == email.strip().lower()))).scalar_one_or_none()


# --------------------------------------------------------------------------- MFA recovery codes


async def replace_recovery_codes(session: AsyncSession, account: User | PlatformOperator, hashes: list[str]) -> None:
    if isinstance(account, User):
        await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == account.id))
        await session.execute(insert(MfaRecoveryCode), [
            {"tenant_id": account.tenant_id, "user_id": account.id, "code_hash": h} for h in hashes])
    else:
        await session.execute(delete(OperatorRecoveryCode).where(OperatorRecoveryCode.operator_id == account.id))
        await session.execute(insert(OperatorRecoveryCode), [
            {"operator_id": account.id, "code_hash": h} for h in hashes])


async def delete_recovery_codes(session: AsyncSession, account: User | PlatformOperator) -> None:
    if isinstance(account, User):
        await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == account.id))
    else:
        await session.execute(delete(OperatorRecoveryCode).where(OperatorRecoveryCode.operator_id == account.id))


async def use_recovery_code(session: AsyncSession, account: User | PlatformOperator, code_hash: str) -> bool:
    m: Any = MfaRecoveryCode if isinstance(account, User) else OperatorRecoveryCode
    owner = m.user_id if isinstance(account, User) else m.operator_id
    res = await session.execute(update(m).where(owner == account.id, m.code_hash == code_hash, m.used_at.is_(None))
                                .values(used_at=func.now()).returning(m.id))
    return res.scalar_one_or_none() is not None


async def unused_recovery_codes(session: AsyncSession, account: User | PlatformOperator) -> int:
    m: Any = MfaRecoveryCode if isinstance(account, User) else OperatorRecoveryCode
    owner = m.user_id if isinstance(account, User) else m.operator_id
    return int((await session.execute(select(func.count()).where(owner == account.id, m.used_at.is_(None))))
               .scalar_one())


# --------------------------------------------------------------------------- API keys


async def list_api_keys(session: AsyncSession, *, limit: int, offset: int, include_revoked: bool) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id).limit(limit + 1).offset(offset)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list((await session.execute(stmt)).scalars())


async def get_api_key(session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    return (await session.execute(select(ApiKey).where(ApiKey.id == key_id))).scalar_one_or_none()


# --------------------------------------------------------------------------- addresses


async def list_addresses(session: AsyncSession, user_id: uuid.UUID) -> list[Address]:
    return list((await session.execute(select(Address).where(Address.user_id == user_id)
                                       .order_by(Address.is_default.desc(), Address.created_at, Address.id))).scalars())


async def get_address(session: AsyncSession, user_id: uuid.UUID, address_id: uuid.UUID) -> Address | None:
    # Scoped by owner: another customer's address is simply not found.
    return (await session.execute(select(Address).where(Address.id == address_id, Address.user_id == user_id))
            ).scalar_one_or_none()


async def count_addresses(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int((await session.execute(select(func.count()).where(Address.user_id == user_id))).scalar_one())


async def clear_default_address(session: AsyncSession, user_id: uuid.UUID,
                                except_id: uuid.UUID | None = None) -> None:
    stmt = update(Address).where(Address.user_id == user_id, Address.is_default.is_(True))
    if except_id is not None:
        stmt = stmt.where(Address.id != except_id)
    await session.execute(stmt.values(is_default=False))


async def newest_address(session: AsyncSession, user_id: uuid.UUID) -> Address | None:
    return (await session.execute(select(Address).where(Address.user_id == user_id)
                                  .order_by(Address.created_at.desc(), Address.id.desc()).limit(1))).scalar_one_or_none()
