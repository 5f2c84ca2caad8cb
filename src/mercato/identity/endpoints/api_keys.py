"""API keys (``/api-keys``): create (token shown once), list, revoke."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mercato.identity import repository
from mercato.identity.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList
from mercato.identity.service import api_keys
from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep, page_of
from mercato.platform.security import Permission, Principal

router = APIRouter(prefix="/api-keys", tags=["users"])
KeysManage = Annotated[Principal, require(Permission.API_KEYS)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ApiKeyCreated, summary="Create an API key",
             description="`secret` keys act with a role (admin, merchant or support); `publishable` keys have the "
                         "storefront scope. The token is shown once.",
             responses=problem_schema_responses(401, 403, 422))
async def create_key(data: ApiKeyCreate, session: SessionDep, principal: KeysManage) -> ApiKeyCreated:
    key, token = await api_keys.create_key(session, principal, name=data.name, kind=data.kind, role=data.role)
    return ApiKeyCreated(**ApiKey.model_validate(key).model_dump(), token=token)


@router.get("", response_model=ApiKeyList, summary="List API keys (never their secrets)",
            responses=problem_schema_responses(401, 403))
async def list_keys(session: SessionDep, _: KeysManage, page: PageDep,
                    include_revoked: Annotated[bool, Query()] = False) -> ApiKeyList:
    rows = await repository.list_api_keys(session, limit=page.limit, offset=page.offset,
                                          include_revoked=include_revoked)
    rows, has_more, _cursor = page_of(rows, page, key=lambda k: [k.created_at, k.id])
    # Offset paging here: key lists are short. next_cursor stays empty; use offset.
    return ApiKeyList(items=[ApiKey.model_validate(k) for k in rows], has_more=has_more)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke an API key (immediately)",
               responses=problem_schema_responses(401, 403, 404))
async def revoke_key(key_id: uuid.UUID, session: SessionDep, principal: KeysManage) -> Response:
    await api_keys.revoke_key(session, principal, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
