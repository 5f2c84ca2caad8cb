"""The tenant's audit log, read-only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from mercato.audit import service
from mercato.audit.repository import AuditFilter
from mercato.audit.schemas import AuditEntry, AuditEntryList
from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import Forbidden, problem_schema_responses
from mercato.platform.pagination import InvalidCursor, PageDep, page_of
from mercato.platform.security import Permission, Principal

router = APIRouter(prefix="/audit-log", tags=["audit"])
AuditReader = Annotated[Principal, require(Permission.AUDIT_READ)]


@router.get("", response_model=AuditEntryList, summary="List the shop's audit log, newest first",
            responses=problem_schema_responses(400, 401, 403, 422))
async def list_audit_log(
    session: SessionDep,
    principal: AuditReader,
    page: PageDep,
    action: Annotated[str | None, Query(max_length=100, description="Exact action, e.g. `user.updated`")] = None,
    resource_type: Annotated[str | None, Query(max_length=60, description="e.g. `user`, `api_key`")] = None,
    resource_id: Annotated[str | None, Query(max_length=100)] = None,
    actor_id: Annotated[uuid.UUID | None, Query(description="User, operator or API key that acted")] = None,
    since: Annotated[datetime | None, Query(description="Entries at or after this time (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="Entries before this time (ISO 8601)")] = None,
) -> AuditEntryList:
    if principal.tenant_id is None:
        raise Forbidden("the audit log belongs to a shop; use a shop credential")
    before_id: int | None = None
    if page.cursor is not None:
        if len(page.cursor) != 1 or not isinstance(page.cursor[0], int) or isinstance(page.cursor[0], bool):
            raise InvalidCursor("cursor is not an audit log cursor", field="query.cursor")
        before_id = page.cursor[0]
    filters = AuditFilter(action=action, resource_type=resource_type, resource_id=resource_id, actor_id=actor_id,
                          since=since, until=until)
    rows = await service.list_entries(session, principal.tenant_id, filters, limit=page.limit,
                                      before_id=before_id, offset=page.offset)
    rows, has_more, cursor = page_of(rows, page, key=lambda e: [e.id])
    return AuditEntryList(items=[AuditEntry.model_validate(e) for e in rows], has_more=has_more, next_cursor=cursor)
