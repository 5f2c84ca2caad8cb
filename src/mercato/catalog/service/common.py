"""What every catalog write does: events + audit in the same transaction, cache invalidation after
commit, and turning unique-constraint races into domain conflicts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.catalog import repository
from mercato.catalog.domain import Problem, next_free_slug, slugify
from mercato.catalog.errors import HandleTaken, InvalidCatalogData, SkuTaken, SlugTaken
from mercato.platform.errors import MercatoError
from mercato.platform.events import publish

CACHE_NAMESPACE = "catalog"


def invalidate(session: AsyncSession) -> None:
    """Drop the tenant's cached catalog reads once this transaction commits (nothing on rollback)."""
    tenant = repository.tenant_of(session)
    request = session.info.get("request")
    cache = getattr(getattr(getattr(request, "app", None), "state", None), "cache", None)
    if cache is not None:
        cache.bump_after_commit(session, tenant, CACHE_NAMESPACE)
    else:
        # Outside a request (jobs, CLI): same contract as Cache.bump_after_commit; the app's Database
        # applies pending bumps after every commit.
        session.info.setdefault("cache_bumps", set()).add((tenant, CACHE_NAMESPACE))


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def snapshot(row: Any, fields: Iterator[str] | list[str] | tuple[str, ...]) -> dict[str, Any]:
    return {f: _jsonable(getattr(row, f)) for f in fields}


async def record(session: AsyncSession, event: str, *, aggregate_type: str, aggregate_id: uuid.UUID,
                 data: dict[str, Any] | None = None, changes: dict[str, Any] | None = None) -> None:
    """One catalog mutation: its outbox event, its audit entry, and cache invalidation."""
    payload = {"id": str(aggregate_id), **_jsonable(data or {})}
    await publish(session, event, aggregate_type=aggregate_type, aggregate_id=aggregate_id, data=payload)
    await audit.record(session, action=event, resource_type=aggregate_type, resource_id=aggregate_id,
                       changes=_jsonable(changes) if changes else None)
    invalidate(session)


async def free_slug(session: AsyncSession, model: type[Any], source: str) -> str:
    base = slugify(source)
    return next_free_slug(base, await repository.taken_slugs(session, model, base))


async def ensure_slug_free(session: AsyncSession, model: type[Any], slug: str, own_id: uuid.UUID | None = None) -> None:
    existing = await repository.get_by_slug(session, model, slug)
    if existing is not None and existing.id != own_id:
        raise SlugTaken(f"slug {slug!r} is already in use", field="slug", slug=slug)


def raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise InvalidCatalogData("; ".join(f"{p.field}: {p.message}" for p in problems[:5]),
                                 errors=[p.as_dict() for p in problems])


_CONSTRAINT_ERRORS: dict[str, Callable[[], MercatoError]] = {
    "uq_variants_tenant_sku": lambda: SkuTaken("a SKU in this request is already in use", field="sku"),
    "uq_products_tenant_handle": lambda: HandleTaken(field="handle"),
    "uq_products_tenant_slug": lambda: SlugTaken(field="slug"),
    "uq_categories_tenant_slug": lambda: SlugTaken(field="slug"),
    "uq_brands_tenant_slug": lambda: SlugTaken(field="slug"),
    "uq_collections_tenant_slug": lambda: SlugTaken(field="slug"),
}


def _constraint(exc: IntegrityError) -> str | None:
    cause = getattr(exc.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(exc.orig, "constraint_name", None)
    if name:
        return str(name)
    text = str(exc.orig)
    return next((c for c in _CONSTRAINT_ERRORS if c in text), None)


@asynccontextmanager
async def conflicts_as_errors(session: AsyncSession):  # type: ignore[no-untyped-def]
    """Flush inside; a unique violation that slipped past the pre-checks (a concurrent writer)
    becomes the matching 409 instead of a 500. The transaction is then unusable, which is fine:
    the request fails and rolls back."""
    try:
        yield
        await session.flush()
    except IntegrityError as exc:
        name = _constraint(exc)
        if name in _CONSTRAINT_ERRORS:
            raise _CONSTRAINT_ERRORS[name]() from exc
        raise
