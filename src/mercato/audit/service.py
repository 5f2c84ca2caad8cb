"""Audit trail: every mutation records who did what, in the same transaction."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import column, insert, table
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.audit import repository
from mercato.audit.models import AuditEntry
from mercato.audit.repository import AuditFilter
from mercato.platform.db import buffered, current_tenant
from mercato.platform.security import Principal

#: Field names whose values never reach the audit log (only the fact that they changed).
SENSITIVE_FIELDS = ("password", "secret", "token", "hash", "mfa", "recovery")
REDACTED = "[redacted]"


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Changed fields only: ``{field: {"from": old, "to": new}}``."""
    return {k: {"from": before.get(k), "to": after.get(k)} for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)}


def _jsonable(value: Any) -> Any:
    """Values as JSONB can store them (UUIDs, datetimes, decimals, enums become strings)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    return str(value)


def _redact(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, change in changes.items():
        if any(s in field.lower() for s in SENSITIVE_FIELDS):
            change = {"from": REDACTED, "to": REDACTED} if isinstance(change, dict) else REDACTED
        out[field] = change
    return out


#: Core table of the columns an entry is written with (no ORM round trip through the mapper: the hot
#: paths write a few entries per request).
_APPEND = table("audit_log", *(column(c.name, c.type) for c in AuditEntry.__table__.columns
                               if c.name not in ("id", "created_at")))
_BUFFER_KEY = "mercato.audit.buffer"


@asynccontextmanager
async def batched(session: AsyncSession) -> AsyncIterator[None]:
    """Collect the entries recorded inside the block and write them with one batched INSERT at its end
    (in recording order, so their ids are as if written one by one), in the caller's transaction. An
    exception discards them: the caller's transaction rolls back anyway. Nothing inside may roll back to a
    savepoint. Nested blocks join the outer one (``platform.db.buffered``, like the outbox's batch)."""
    async with buffered(session, _BUFFER_KEY, lambda rows: session.execute(insert(_APPEND), rows)):
        yield


async def record(session: AsyncSession, *, action: str, resource_type: str, resource_id: Any = None,
                 changes: dict[str, Any] | None = None, actor: Principal | None = None,
                 tenant_id: uuid.UUID | None = None) -> None:
    """Append an entry in the session's transaction: it commits or rolls back with the change.

    The actor defaults to the request's principal (``system`` outside a request); values of
    secret-looking fields (passwords, tokens, hashes, MFA secrets) are redacted.
    """
    tenant = tenant_id or current_tenant(session)
    if tenant is None:
        raise RuntimeError("audit.record() needs a tenant")
    request = session.info.get("request")
    if actor is None and request is not None:
        actor = getattr(request.state, "principal", None)
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    ip = request.client.host if request is not None and request.client else None
    row = {
        "tenant_id": tenant,
        "actor_type": actor.kind if actor else "system",
        "actor_id": actor.actor_id if actor else None,
        "action": action,
        "resource_type": resource_type,
        "resource_id": str(resource_id) if resource_id is not None else None,
        "changes": _jsonable(_redact(changes)) if changes is not None else None,
        "request_id": request_id,
        "ip": ip if ip and ip != "testclient" else None,
    }
    buffer = session.info.get(_BUFFER_KEY)
    if buffer is not None:
        buffer.append(row)
    else:
        await session.execute(insert(_APPEND), [row])


async def list_entries(session: AsyncSession, tenant_id: uuid.UUID, filters: AuditFilter, *, limit: int,
                       before_id: int | None = None, offset: int = 0) -> list[AuditEntry]:
    return await repository.list_page(session, tenant_id, filters, limit=limit, before_id=before_id, offset=offset)
