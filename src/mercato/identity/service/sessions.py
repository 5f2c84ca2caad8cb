"""Sessions: login, token pairs, refresh rotation with reuse detection, logout, introspection."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.identity import repository
from mercato.identity.errors import AccountInactive, InvalidCredentials, RefreshTokenReused, UserOnly
from mercato.identity.models import ApiKey, PlatformOperator, User
from mercato.identity.schemas import Introspection, MfaChallenge, TokenPair
from mercato.identity.service import throttle
from mercato.identity.service.common import now
from mercato.platform.db import Database, set_tenant
from mercato.platform.errors import InvalidToken
from mercato.platform.ratelimit import Limiter
from mercato.platform.security import (
    MFA_REQUIRED_ROLES,
    OPERATOR_PERMISSIONS,
    PUBLISHABLE_KEY_PERMISSIONS,
    REFRESH_TOKEN_PREFIX,
    Principal,
    burn_password_check,
    decode_jwt,
    encode_jwt,
    hash_password,
    key_kind,
    parse_scoped_token,
    password_needs_rehash,
    permissions_for_roles,
    scoped_token,
    token_digest,
    verify_password,
)
from mercato.settings import get_settings

Account = User | PlatformOperator


@dataclass(frozen=True)
class LoginResult:
    tokens: TokenPair | None = None
    challenge: MfaChallenge | None = None


def mfa_required(account: Account) -> bool:
    if account.mfa_enabled:
        return True
    return isinstance(account, User) and account.role in MFA_REQUIRED_ROLES


def _secret() -> str:
    return get_settings().secret_key.get_secret_value()


async def issue_tokens(session: AsyncSession, account: Account, *, family: uuid.UUID | None = None,
                       user_agent: str | None = None, ip: str | None = None) -> TokenPair:
    """An access JWT and an opaque refresh token (digest at rest) of the session ``family``."""
    s = get_settings()
    family = family or uuid.uuid4()
    values: dict[str, Any] = {"family_id": family, "expires_at": now() + timedelta(seconds=s.refresh_token_ttl_seconds)}
    if isinstance(account, User):
        refresh = scoped_token(REFRESH_TOKEN_PREFIX, account.tenant_id)
        values |= {"tenant_id": account.tenant_id, "user_id": account.id,
                   "user_agent": (user_agent or "")[:300] or None, "ip": ip}
        claims = {"sub": str(account.id), "tid": str(account.tenant_id), "kind": "user", "roles": [account.role]}
    else:
        refresh = scoped_token(REFRESH_TOKEN_PREFIX, None)
        values |= {"operator_id": account.id}
        claims = {"sub": str(account.id), "kind": "operator", "roles": []}
    values["token_hash"] = token_digest(refresh)
    await repository.insert_refresh_token(session, operator=not isinstance(account, User), values=values)
    access = encode_jwt({**claims, "typ": "access", "fam": str(family)}, _secret(), s.access_token_ttl_seconds)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=s.access_token_ttl_seconds)


def mfa_challenge(account: Account, *, enroll: bool) -> MfaChallenge:
    """A short-lived JWT (``typ: mfa``) that proves the password step; it is not an access token."""
    ttl = get_settings().mfa_challenge_ttl_seconds
    claims: dict[str, Any] = {"sub": str(account.id), "typ": "mfa", "purpose": "enroll" if enroll else "verify",
                              "kind": "user" if isinstance(account, User) else "operator"}
    if isinstance(account, User):
        claims["tid"] = str(account.tenant_id)
    return MfaChallenge(mfa_enrollment_required=enroll, challenge_token=encode_jwt(claims, _secret(), ttl),
                        expires_in=ttl)


def ensure_active(account: Account) -> None:
    if account.status != "active":
        raise AccountInactive(f"account is {account.status}")


async def login(session: AsyncSession, limiter: Limiter, *, tenant_id: uuid.UUID | None, email: str, password: str,
                ip: str | None, user_agent: str | None) -> LoginResult:
    """Password step. With a tenant, a user of that shop; without, a platform operator."""
    scope = f"login:{tenant_id or 'platform'}"
    await throttle.check(limiter, scope, email, ip)
    account: Account | None
    if tenant_id is not None:
        account = await repository.get_user_by_email(session, email)
    else:
        account = await repository.get_operator_by_email(session, email)
    if account is None or not account.password_hash:
        burn_password_check(password)  # unknown accounts cost the same time as known ones
        await throttle.failed(limiter, scope, email, ip)
        raise InvalidCredentials()
    if not verify_password(account.password_hash, password):
        await throttle.failed(limiter, scope, email, ip)
        raise InvalidCredentials()
    ensure_active(account)
    await throttle.succeeded(limiter, scope, email)
    if password_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    if mfa_required(account):
        await session.flush()
        return LoginResult(challenge=mfa_challenge(account, enroll=not account.mfa_enabled))
    account.last_login_at = now()
    await session.flush()
    return LoginResult(tokens=await issue_tokens(session, account, user_agent=user_agent, ip=ip))


def refresh_token_tenant(token: str) -> uuid.UUID | None:
    """The shop a refresh token belongs to (None: a platform operator's)."""
    return parse_scoped_token(token, REFRESH_TOKEN_PREFIX)


async def refresh(session: AsyncSession, db: Database, token: str, *, user_agent: str | None = None,
                  ip: str | None = None) -> TokenPair:
    """Rotate: spend this refresh token and issue the next one of the same family.

    Presenting an already-spent token means it was copied: the whole family is revoked, in its own
    transaction so the revocation survives this request's failure."""
    tenant_id = refresh_token_tenant(token)
    operator = tenant_id is None
    digest = token_digest(token)
    claimed = await repository.claim_refresh_token(session, operator=operator, token_hash=digest)
    if claimed is None:
        row = await repository.find_refresh_token(session, operator=operator, token_hash=digest)
        if row is None:
            raise InvalidToken("unknown refresh token")
        if row.revoked_at is not None:
            raise InvalidToken("refresh token revoked", reason="revoked")
        if row.used_at is not None:
            async with db.transaction(tenant_id) as own:
                await repository.revoke_family(own, operator=operator, family_id=row.family_id)
            raise RefreshTokenReused()
        raise InvalidToken("refresh token expired", reason="expired")
    account: Account | None
    if operator:
        account = await repository.get_operator(session, claimed.owner_id)
    else:
        account = await repository.get_user(session, claimed.owner_id)
    if account is None:
        raise InvalidToken("account no longer exists")
    ensure_active(account)
    return await issue_tokens(session, account, family=claimed.family_id, user_agent=user_agent, ip=ip)


async def logout(session: AsyncSession, principal: Principal, refresh_token: str | None) -> None:
    """End the caller's session family (or the family of the given refresh token, if it is theirs)."""
    operator = principal.kind == "operator"
    if principal.kind not in ("user", "operator"):
        raise UserOnly("API keys have no session; revoke the key instead")
    family = principal.session_family
    if refresh_token:
        row = await repository.find_refresh_token(session, operator=operator, token_hash=token_digest(refresh_token))
        if row is None or row.owner_id != (principal.operator_id if operator else principal.user_id):
            raise InvalidToken("unknown refresh token")
        family = row.family_id
    if family is not None:
        await repository.revoke_family(session, operator=operator, family_id=family)


TenantLookup = Callable[[AsyncSession, uuid.UUID], Awaitable[Any]]


async def introspect(session: AsyncSession, token: str | None, tenant_by_id: TenantLookup) -> Introspection:
    """RFC 7662-style: is this credential usable right now, and whose is it? Never raises for bad tokens."""
    if not token:
        return Introspection(active=False, reason="invalid")
    try:
        if key_kind(token):
            return await _introspect_key(session, token, tenant_by_id)
        claims = decode_jwt(token, _secret(), typ="access")
        subject = uuid.UUID(claims["sub"])
        family = uuid.UUID(claims["fam"]) if claims.get("fam") else None
        exp = int(claims["exp"])
        if claims.get("kind") == "operator":
            op = await repository.get_operator(session, subject)
            if op is None or op.status != "active":
                return Introspection(active=False, reason="inactive", kind="operator", subject=str(subject), exp=exp)
            if family and await _family_revoked(session, family, operator=True):
                return Introspection(active=False, reason="revoked", kind="operator", subject=str(subject), exp=exp)
            return Introspection(active=True, kind="operator", subject=str(subject), exp=exp,
                                 permissions=sorted(OPERATOR_PERMISSIONS))
        tenant_id = uuid.UUID(claims["tid"])
    except InvalidToken as exc:
        return Introspection(active=False, reason=exc.extra.get("reason", "invalid"))
    except (KeyError, ValueError, TypeError):
        return Introspection(active=False, reason="invalid")
    base: dict[str, Any] = {"kind": "user", "subject": str(subject), "tenant_id": tenant_id, "exp": exp}
    ref = await tenant_by_id(session, tenant_id)
    if ref is None:
        return Introspection(active=False, reason="invalid", **base)
    if ref.status != "active":
        return Introspection(active=False, reason="inactive", **base)
    await set_tenant(session, tenant_id)
    user = await repository.get_user(session, subject)
    if user is None:
        return Introspection(active=False, reason="invalid", **base)
    if user.status != "active":
        return Introspection(active=False, reason="inactive", **base)
    if family and await _family_revoked(session, family, operator=False):
        return Introspection(active=False, reason="revoked", **base)
    return Introspection(active=True, roles=[user.role], permissions=sorted(permissions_for_roles((user.role,))),
                         **base)


async def _family_revoked(session: AsyncSession, family: uuid.UUID, *, operator: bool) -> bool:
    return bool((await session.execute(select(repository.family_revoked_clause(family, operator=operator)))).scalar())


async def _introspect_key(session: AsyncSession, token: str, tenant_by_id: TenantLookup) -> Introspection:
    kind = key_kind(token)
    tenant_id = parse_scoped_token(token, token.split("_", 1)[0])
    if tenant_id is None:
        return Introspection(active=False, reason="invalid")
    ref = await tenant_by_id(session, tenant_id)
    if ref is None:
        return Introspection(active=False, reason="invalid")
    await set_tenant(session, tenant_id)
    row = (await session.execute(select(ApiKey.id, ApiKey.kind, ApiKey.role, ApiKey.revoked_at)
                                 .where(ApiKey.key_hash == token_digest(token)))).one_or_none()
    if row is None or row.kind != kind:
        return Introspection(active=False, reason="invalid")
    principal_kind = f"{kind}_key"
    base: dict[str, Any] = {"kind": principal_kind, "subject": str(row.id), "tenant_id": tenant_id}
    if row.revoked_at is not None:
        return Introspection(active=False, reason="revoked", **base)
    if ref.status != "active":
        return Introspection(active=False, reason="inactive", **base)
    roles = [row.role] if row.role else []
    perms = PUBLISHABLE_KEY_PERMISSIONS if kind == "publishable" else permissions_for_roles(tuple(roles))
    return Introspection(active=True, roles=roles, permissions=sorted(perms), **base)
