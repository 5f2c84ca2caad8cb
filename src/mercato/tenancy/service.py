"""Tenant use cases (platform scope)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.identity as identity
from mercato.identity import TenantRef
from mercato.platform.db import set_tenant
from mercato.platform.errors import ValidationFailed
from mercato.platform.security import password_problems
from mercato.settings import get_settings
from mercato.tenancy import repository
from mercato.tenancy.domain import RESERVED_SLUGS, check_transition
from mercato.tenancy.errors import SlugTaken, TenantNotFound
from mercato.tenancy.models import Tenant
from mercato.tenancy.schemas import TenantCreate

#: Tenant lookups run on every request; a few seconds of memory saves a query each time.
#: A suspension made in this process applies at once; other processes see it within this TTL.
LOOKUP_TTL_SECONDS = 3.0
_by_id: dict[uuid.UUID, tuple[float, TenantRef]] = {}
_by_slug: dict[str, tuple[float, TenantRef]] = {}


def _remember(ref: TenantRef) -> TenantRef:
    expires = time.monotonic() + LOOKUP_TTL_SECONDS
    _by_id[ref.id] = (expires, ref)
    _by_slug[ref.slug] = (expires, ref)
    if len(_by_id) > 50_000:  # bounded memory
        _by_id.clear()
        _by_slug.clear()
    return ref


def forget(tenant_id: uuid.UUID) -> None:
    hit = _by_id.pop(tenant_id, None)
    if hit:
        _by_slug.pop(hit[1].slug, None)


async def lookup_by_id(session: AsyncSession, tenant_id: uuid.UUID) -> TenantRef | None:
    hit = _by_id.get(tenant_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    t = await repository.get(session, tenant_id)
    return _remember(TenantRef(t.id, t.slug, t.status)) if t else None


async def lookup_by_slug(session: AsyncSession, slug: str) -> TenantRef | None:
    hit = _by_slug.get(slug)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    t = await repository.get_by_slug(session, slug)
    return _remember(TenantRef(t.id, t.slug, t.status)) if t else None


@dataclass(frozen=True)
class Onboarded:
    tenant: Tenant
    owner_id: uuid.UUID
    secret_key: str
    publishable_key: str


async def create_tenant(session: AsyncSession, data: TenantCreate) -> Onboarded:
    """Create a shop with its first owner and a secret + publishable API key (shown once)."""
    if data.slug in RESERVED_SLUGS:
        raise SlugTaken(f"{data.slug!r} is reserved", field="slug")
    if data.owner_password is not None:
        problems = password_problems(data.owner_password, get_settings().password_min_length)
        if problems:
            raise ValidationFailed("owner_password " + ", ".join(problems), field="owner_password")
    tenant = await repository.insert_tenant(session, name=data.name, slug=data.slug)
    if tenant is None:
        raise SlugTaken(field="slug")
    await set_tenant(session, tenant.id)
    owner = await identity.create_user(session, tenant_id=tenant.id, email=str(data.owner_email), role="owner",
                                       password=data.owner_password, email_verified=True)
    sk = await identity.issue_api_key(session, tenant_id=tenant.id, name="Default secret key", kind="secret",
                                      role="admin")
    pk = await identity.issue_api_key(session, tenant_id=tenant.id, name="Default publishable key",
                                      kind="publishable")
    return Onboarded(tenant=tenant, owner_id=owner.id, secret_key=sk.token, publishable_key=pk.token)


async def set_status(session: AsyncSession, tenant_id: uuid.UUID, target: str) -> Tenant:
    tenant = await repository.get(session, tenant_id)
    if tenant is None:
        raise TenantNotFound()
    check_transition(tenant.status, target)
    tenant.status = target
    await session.flush()
    forget(tenant.id)
    return tenant


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await repository.get(session, tenant_id)
    if tenant is None:
        raise TenantNotFound()
    return tenant
