"""Who is calling: credentials → tenant → principal (ARCHITECTURE.md §3–4).

Tenant sources, in order: API key → JWT ``tid`` claim → ``Host`` subdomain
(``{slug}.{MERCATO_BASE_DOMAIN}``) → ``X-Mercato-Tenant`` header (slug). Two
sources that name different tenants → 403 ``tenant_mismatch``. The tenant is
then bound to the request's transaction (``set_config(..., true)``), so every
query after this point is confined by row-level security.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from fastapi import Depends, Request
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.identity.errors import AccountInactive
from mercato.identity.models import ApiKey, OperatorRefreshToken, PlatformOperator, RefreshToken, User
from mercato.platform.db import set_tenant
from mercato.platform.errors import Forbidden, InvalidToken, NotFound
from mercato.platform.security import (
    ANONYMOUS,
    OPERATOR_PERMISSIONS,
    PUBLISHABLE_KEY_PERMISSIONS,
    Principal,
    decode_jwt,
    key_kind,
    parse_scoped_token,
    permissions_for_roles,
    token_digest,
)
from mercato.settings import get_settings


@dataclass(frozen=True)
class TenantRef:
    id: uuid.UUID
    slug: str
    status: str


#: Supplied by the app factory (tenancy's lookup), so identity does not import tenancy.
TenantById = Callable[[AsyncSession, uuid.UUID], Awaitable[TenantRef | None]]
TenantBySlug = Callable[[AsyncSession, str], Awaitable[TenantRef | None]]


#: API keys are looked up on every request that carries one; a few seconds of memory saves a query each
#: time. A revocation made in this process applies at once (``forget_api_key``); other server processes
#: see it within this TTL — the same bound as a tenant's suspension (tenancy.LOOKUP_TTL_SECONDS).
API_KEY_TTL_SECONDS = 3.0


@dataclass(frozen=True)
class _KeyRow:
    id: uuid.UUID
    role: str | None
    kind: str
    revoked: bool


_keys: dict[str, tuple[float, _KeyRow]] = {}  # key digest -> (expires, row)
_touched: dict[uuid.UUID, datetime] = {}  # key id -> the minute this process last wrote last_used_at


def forget_api_key(key_id: uuid.UUID) -> None:
    """Drop a key from this process's lookup cache (after a revocation)."""
    for digest, (_, row) in list(_keys.items()):
        if row.id == key_id:
            _keys.pop(digest, None)


async def _key_row(session: AsyncSession, token: str) -> _KeyRow | None:
    digest = token_digest(token)
    hit = _keys.get(digest)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    found = (await session.execute(
        select(ApiKey.id, ApiKey.role, ApiKey.kind, ApiKey.revoked_at).where(ApiKey.key_hash == digest)
    )).one_or_none()
    if found is None:  # unknown keys are not remembered: guessing must not fill memory
        return None
    if len(_keys) > 50_000:  # bounded memory
        _keys.clear()
        _touched.clear()
    row = _KeyRow(found.id, found.role, found.kind, found.revoked_at is not None)
    _keys[digest] = (time.monotonic() + API_KEY_TTL_SECONDS, row)
    return row


class TenantMismatch(Forbidden):
    code, title = "tenant_mismatch", "The request names two different tenants"


class TenantSuspended(Forbidden):
    code, title = "tenant_suspended", "This shop is suspended"


class UnknownTenant(NotFound):
    code, title = "tenant_not_found", "Unknown tenant"


class SessionRevoked(InvalidToken):
    code, title = "session_revoked", "This session has ended; sign in again"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise InvalidToken("Authorization header must be 'Bearer <token>'")
    return value.strip()


def host_slug(request: Request, base_domain: str) -> str | None:
    host = (request.headers.get("host") or "").split(":", 1)[0].lower()
    suffix = "." + base_domain.lower()
    if host.endswith(suffix):
        sub = host[: -len(suffix)]
        if sub and "." not in sub:
            return sub
    return None


class PrincipalResolver:
    def __init__(self, tenant_by_id: TenantById, tenant_by_slug: TenantBySlug) -> None:
        self.tenant_by_id = tenant_by_id
        self.tenant_by_slug = tenant_by_slug

    async def __call__(self, request: Request, session: AsyncSession) -> Principal:
        settings = get_settings()
        token = _bearer(request)
        hinted: list[TenantRef] = []
        for slug in (host_slug(request, settings.base_domain), request.headers.get("x-mercato-tenant")):
            if slug:
                ref = await self.tenant_by_slug(session, slug.strip().lower())
                if ref is None:
                    raise UnknownTenant(f"no shop named {slug!r}")
                hinted.append(ref)
        if len({h.id for h in hinted}) > 1:
            raise TenantMismatch()

        principal = ANONYMOUS
        credential_tenant: uuid.UUID | None = None
        if token is not None:
            if key_kind(token):
                principal = await self._api_key(session, token)
            else:
                principal = await self._jwt(session, token, settings.secret_key.get_secret_value())
            credential_tenant = principal.tenant_id
            if credential_tenant and any(h.id != credential_tenant for h in hinted):
                raise TenantMismatch()

        tenant_id = credential_tenant or (hinted[0].id if hinted else None)
        if tenant_id is not None:
            ref = hinted[0] if hinted and hinted[0].id == tenant_id else await self.tenant_by_id(session, tenant_id)
            if ref is None:
                raise InvalidToken("credential names an unknown tenant")
            if ref.status != "active":
                raise TenantSuspended()
            if principal.kind == "anonymous":
                principal = Principal(kind="anonymous", tenant_id=tenant_id)
            request.state.tenant_id = tenant_id
            if session.info.get("tenant_id") != tenant_id:
                await set_tenant(session, tenant_id)
        if principal.kind == "user":
            principal = await self._finish_user(session, principal)
        return principal

    async def _api_key(self, session: AsyncSession, token: str) -> Principal:
        kind = key_kind(token)
        prefix = token.split("_", 1)[0]
        tenant_id = parse_scoped_token(token, prefix)
        if tenant_id is None:
            raise InvalidToken("malformed API key")
        await set_tenant(session, tenant_id)
        row = await _key_row(session, token)
        if row is None or row.revoked or row.kind != kind:
            raise InvalidToken("unknown or revoked API key")
        # last_used_at at minute granularity keeps hot keys from writing on every request; this process
        # remembers the minute it last wrote, so a busy key costs one UPDATE a minute, not one a request.
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        if _touched.get(row.id) != minute:
            await session.execute(
                update(ApiKey).where(ApiKey.id == row.id)
                .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < minute))
                .values(last_used_at=datetime.now(UTC))
            )
            _touched[row.id] = minute
        if kind == "publishable":
            return Principal(kind="publishable_key", tenant_id=tenant_id, api_key_id=row.id,
                             permissions=PUBLISHABLE_KEY_PERMISSIONS)
        roles = (row.role,) if row.role else ()
        return Principal(kind="secret_key", tenant_id=tenant_id, api_key_id=row.id, roles=roles,
                         permissions=permissions_for_roles(roles))

    async def _jwt(self, session: AsyncSession, token: str, secret: str) -> Principal:
        claims = decode_jwt(token, secret, typ="access")
        try:
            subject = uuid.UUID(claims["sub"])
            family = uuid.UUID(claims["fam"]) if claims.get("fam") else None
            if claims.get("kind") == "operator":
                revoked = exists().where(OperatorRefreshToken.family_id == family,
                                         OperatorRefreshToken.revoked_at.is_not(None))
                op = (await session.execute(select(PlatformOperator.status, revoked.label("revoked"))
                                            .where(PlatformOperator.id == subject))).one_or_none()
                if op is None or op.status != "active":
                    raise InvalidToken("operator no longer active")
                if op.revoked:
                    raise SessionRevoked()
                return Principal(kind="operator", operator_id=subject, permissions=OPERATOR_PERMISSIONS,
                                 session_family=family)
            tenant_id = uuid.UUID(claims["tid"])
        except (KeyError, ValueError) as exc:
            raise InvalidToken("malformed token claims") from exc
        return Principal(kind="user", tenant_id=tenant_id, user_id=subject, session_family=family)

    async def _finish_user(self, session: AsyncSession, principal: Principal) -> Principal:
        """A JWT's user must still exist and be active; roles come from the database, not the token,
        so a demotion or suspension takes effect on the next request."""
        if session.info.get("tenant_id") != principal.tenant_id:
            await set_tenant(session, principal.tenant_id)
        # One round trip: the user's state and whether this session (token family) was logged out / revoked.
        revoked = exists().where(RefreshToken.family_id == principal.session_family,
                                 RefreshToken.revoked_at.is_not(None))
        # The whole row: it lands in the session's identity map, so endpoints that need the caller
        # (``/auth/me``, profile) do not query it again.
        row = (await session.execute(select(User, revoked.label("revoked"))
                                     .where(User.id == principal.user_id))).one_or_none()
        if row is None:
            raise InvalidToken("user not found")
        user, was_revoked = row
        if was_revoked:
            raise SessionRevoked()
        if user.status != "active":
            raise AccountInactive(f"account is {user.status}")
        return replace(principal, roles=(user.role,), permissions=permissions_for_roles((user.role,)))


def client_ip(request: Request) -> str | None:
    """The caller's IP: the first ``X-Forwarded-For`` hop only when proxies are trusted."""
    if get_settings().trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",", 1)[0].strip() or None
    return request.client.host if request.client else None


async def bind_tenant(request: Request, session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Bind the tenant a token names (refresh, one-time or MFA challenge) to the transaction:
    it must agree with any tenant the request already named, and the shop must be active."""
    resolved = getattr(request.state, "tenant_id", None)
    if resolved is not None and resolved != tenant_id:
        raise TenantMismatch()
    resolver: PrincipalResolver = request.app.state.resolve_principal
    ref = await resolver.tenant_by_id(session, tenant_id)
    if ref is None:
        raise InvalidToken("token names an unknown tenant")
    if ref.status != "active":
        raise TenantSuspended()
    request.state.tenant_id = tenant_id
    await set_tenant(session, tenant_id)


async def _credential_is_subject() -> None:
    return None


# Public, but the caller's credential is not resolved: on token introspection the bearer token is the
# thing being examined, and an expired one must produce ``active: false``, not a 401.
_credential_is_subject.__mercato_permission__ = "public"  # type: ignore[attr-defined]
PublicIntrospection = Depends(_credential_is_subject)
