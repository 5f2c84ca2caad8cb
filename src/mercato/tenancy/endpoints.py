"""Platform-operator API for shops (tenants)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

import mercato.audit as audit
from mercato.platform.auth import require
from mercato.platform.db import SessionDep, set_tenant
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep, page_of
from mercato.platform.security import Permission, Principal
from mercato.settings import get_settings
from mercato.tenancy import repository, service
from mercato.tenancy.schemas import Tenant, TenantCreate, TenantCreated, TenantList

router = APIRouter(prefix="/tenants", tags=["tenants"])
Operator = Annotated[Principal, require(Permission.PLATFORM_TENANTS)]


def _out(t, model=Tenant, **extra):  # type: ignore[no-untyped-def]
    return model.model_validate(t, from_attributes=True).model_copy(
        update={"subdomain": f"{t.slug}.{get_settings().base_domain}", **extra})


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantCreated, summary="Create a shop",
             responses=problem_schema_responses(401, 403, 409, 422))
async def create_tenant(data: TenantCreate, session: SessionDep, operator: Operator) -> TenantCreated:
    result = await service.create_tenant(session, data)
    await audit.record(session, action="tenant.created", resource_type="tenant", resource_id=result.tenant.id,
                       actor=operator, changes={"slug": {"from": None, "to": data.slug}})
    base = _out(result.tenant)
    return TenantCreated(**base.model_dump(), owner_user_id=result.owner_id,
                         secret_api_key=result.secret_key, publishable_api_key=result.publishable_key)


@router.get("", response_model=TenantList, summary="List shops", responses=problem_schema_responses(401, 403))
async def list_tenants(session: SessionDep, _: Operator, page: PageDep,
                       status_: Annotated[Literal["active", "suspended"] | None, Query(alias="status")] = None
                       ) -> TenantList:
    after = (page.cursor[0], page.cursor[1]) if page.cursor else None
    if after is not None and not (isinstance(after[0], datetime) and isinstance(after[1], uuid.UUID)):
        from mercato.platform.pagination import InvalidCursor

        raise InvalidCursor(field="query.cursor")
    rows = await repository.list_page(session, limit=page.limit, after=after, status=status_,
                                      offset=0 if after else page.offset)
    rows, has_more, cursor = page_of(rows, page, key=lambda t: [t.created_at, t.id])
    return TenantList(items=[_out(t) for t in rows], has_more=has_more, next_cursor=cursor)


@router.get("/{tenant_id}", response_model=Tenant, summary="Get a shop", responses=problem_schema_responses(401, 403, 404))
async def get_tenant(tenant_id: uuid.UUID, session: SessionDep, _: Operator) -> Tenant:
    return _out(await service.get_tenant(session, tenant_id))


async def _transition(session, tenant_id: uuid.UUID, target: str, operator: Principal) -> Tenant:  # type: ignore[no-untyped-def]
    before = await service.get_tenant(session, tenant_id)
    old = before.status
    t = await service.set_status(session, tenant_id, target)
    await set_tenant(session, t.id)
    await audit.record(session, action=f"tenant.{'suspended' if target == 'suspended' else 'reactivated'}",
                       resource_type="tenant", resource_id=t.id, actor=operator,
                       changes={"status": {"from": old, "to": target}})
    return _out(t)


@router.post("/{tenant_id}/suspend", response_model=Tenant, summary="Suspend a shop",
             responses=problem_schema_responses(401, 403, 404, 409))
async def suspend_tenant(tenant_id: uuid.UUID, session: SessionDep, operator: Operator) -> Tenant:
    return await _transition(session, tenant_id, "suspended", operator)


@router.post("/{tenant_id}/reactivate", response_model=Tenant, summary="Reactivate a suspended shop",
             responses=problem_schema_responses(401, 403, 404, 409))
async def reactivate_tenant(tenant_id: uuid.UUID, session: SessionDep, operator: Operator) -> Tenant:
    return await _transition(session, tenant_id, "active", operator)
