from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=2, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$",
                      description="Lowercase letters, digits and dashes; becomes the subdomain.")
    owner_email: EmailStr
    owner_password: str | None = Field(default=None, min_length=1, max_length=1024,
                                       description="Omit to invite the owner by email instead.")


class Tenant(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    status: Literal["active", "suspended"]
    created_at: datetime
    subdomain: str = ""


class TenantCreated(Tenant):
    owner_user_id: uuid.UUID
    secret_api_key: str = Field(description="Shown once; store it now.")
    publishable_api_key: str


class TenantList(BaseModel):
    items: list[Tenant]
    has_more: bool
    next_cursor: str | None = None
