"""Profiles (``/users/me``) and staff management (``/users``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from mercato.identity import repository
from mercato.identity.domain import AccountStatus
from mercato.identity.schemas import AnyRole, ProfileUpdate, RoleChange, Status, User, UserInvite, UserList
from mercato.identity.service import accounts, staff
from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import InvalidCursor, PageDep, page_of
from mercato.platform.security import Permission, Principal

router = APIRouter(prefix="/users", tags=["users"])
Profile = Annotated[Principal, require(Permission.PROFILE)]
UsersRead = Annotated[Principal, require(Permission.USERS_READ)]
UsersWrite = Annotated[Principal, require(Permission.USERS_WRITE)]


@router.get("/me", response_model=User, summary="My profile", responses=problem_schema_responses(401, 403))
async def get_profile(session: SessionDep, principal: Profile) -> User:
    return User.model_validate(await accounts.get_me(session, principal))


@router.patch("/me", response_model=User, summary="Update my profile (name, phone in E.164, locale)",
              responses=problem_schema_responses(401, 403, 422))
async def update_profile(data: ProfileUpdate, session: SessionDep, principal: Profile) -> User:
    user = await accounts.update_profile(session, principal, data.model_dump(exclude_unset=True))
    return User.model_validate(user)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=User, summary="Invite a staff member",
             description="Creates the user without a password and mails a `staff_invitation` link "
                         "(accepted at `/auth/accept-invitation`).",
             responses=problem_schema_responses(401, 403, 409, 422))
async def invite(data: UserInvite, session: SessionDep, principal: UsersWrite) -> User:
    if data.role == "owner" and "owner" not in principal.roles:
        from mercato.identity.errors import OwnerProtected

        raise OwnerProtected("only an owner can invite an owner")
    assert principal.tenant_id is not None
    user = await accounts.invite_user(session, tenant_id=principal.tenant_id, email=str(data.email), role=data.role,
                                      first_name=data.first_name, last_name=data.last_name, invited_by=principal)
    return User.model_validate(user)


@router.get("", response_model=UserList, summary="List the shop's users",
            description="Filter by `role` and `status`; ordered by creation. Paginated (`limit`, `offset`/`cursor`).",
            responses=problem_schema_responses(400, 401, 403))
async def list_users(session: SessionDep, _: UsersRead, page: PageDep,
                     role: Annotated[AnyRole | None, Query()] = None,
                     status_: Annotated[Status | None, Query(alias="status")] = None) -> UserList:
    after = None
    if page.cursor:
        if len(page.cursor) != 2 or not isinstance(page.cursor[0], datetime) or not isinstance(page.cursor[1], uuid.UUID):
            raise InvalidCursor(field="query.cursor")
        after = (page.cursor[0], page.cursor[1])
    rows = await repository.list_users(session, limit=page.limit, offset=page.offset, after=after, role=role,
                                       status=status_)
    rows, has_more, cursor = page_of(rows, page, key=lambda u: [u.created_at, u.id])
    return UserList(items=[User.model_validate(u) for u in rows], has_more=has_more, next_cursor=cursor)


@router.get("/{user_id}", response_model=User, summary="Get a user", responses=problem_schema_responses(401, 403, 404))
async def get_user(user_id: uuid.UUID, session: SessionDep, _: UsersRead) -> User:
    return User.model_validate(await staff.get_user(session, user_id))


@router.patch("/{user_id}/role", response_model=User, summary="Change a staff member's role",
              description="Nobody changes their own role; only an owner changes or grants ownership.",
              responses=problem_schema_responses(401, 403, 404, 422))
async def change_role(user_id: uuid.UUID, data: RoleChange, session: SessionDep, principal: UsersWrite) -> User:
    return User.model_validate(await staff.change_role(session, principal, user_id, data.role))


@router.post("/{user_id}/suspend", response_model=User, summary="Suspend a user",
             responses=problem_schema_responses(401, 403, 404, 409))
async def suspend(user_id: uuid.UUID, session: SessionDep, principal: UsersWrite) -> User:
    return User.model_validate(await staff.set_status(session, principal, user_id, AccountStatus.SUSPENDED))


@router.post("/{user_id}/reactivate", response_model=User, summary="Reactivate a suspended user",
             responses=problem_schema_responses(401, 403, 404, 409))
async def reactivate(user_id: uuid.UUID, session: SessionDep, principal: UsersWrite) -> User:
    return User.model_validate(await staff.set_status(session, principal, user_id, AccountStatus.ACTIVE))


@router.post("/{user_id}/deactivate", response_model=User, summary="Deactivate a user for good (ends all sessions)",
             responses=problem_schema_responses(401, 403, 404, 409))
async def deactivate(user_id: uuid.UUID, session: SessionDep, principal: UsersWrite) -> User:
    return User.model_validate(await staff.set_status(session, principal, user_id, AccountStatus.DEACTIVATED))
