"""What the audit log API returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, IPvAnyAddress


class AuditEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    actor_type: str
    actor_id: uuid.UUID | None
    action: str
    resource_type: str
    resource_id: str | None
    changes: dict[str, Any] | None
    request_id: str | None
    ip: IPvAnyAddress | None
    created_at: datetime


class AuditEntryList(BaseModel):
    items: list[AuditEntry]
    has_more: bool
    next_cursor: str | None = None
