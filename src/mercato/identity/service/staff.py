"""Staff management: roles and account status of a shop's users."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.identity import repository
from mercato.identity.domain import AccountStatus, check_role_change, check_staff_change, check_transition
from mercato.identity.errors import UserNotFound
from mercato.identity.models import User
from mercato.identity.service.common import user_event
from mercato.platform.security import Principal

STATUS_EVENTS = {AccountStatus.ACTIVE: "user.reactivated", AccountStatus.SUSPENDED: "user.suspended",
                 AccountStatus.DEACTIVATED: "user.deactivated"}


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> User:
    user = await repository.get_user(session, user_id, for_update=for_update)
    if user is None:
        raise UserNotFound()
    return user


async def change_role(session: AsyncSession, actor: Principal, user_id: uuid.UUID, role: str) -> User:
    user = await get_user(session, user_id, for_update=True)
    check_staff_change(actor_user_id=actor.user_id, actor_roles=actor.roles, target_user_id=user.id,
                       target_role=user.role)
    check_role_change(actor_roles=actor.roles, current_role=user.role, new_role=role)
    if role == user.role:
        return user
    old = user.role
    user.role = role
    await session.flush()
    await user_event(session, "user.role_changed", user, actor=actor, changes={"role": {"from": old, "to": role}},
                     data={"previous_role": old})
    return user


async def set_status(session: AsyncSession, actor: Principal, user_id: uuid.UUID, target: str) -> User:
    user = await get_user(session, user_id, for_update=True)
    check_staff_change(actor_user_id=actor.user_id, actor_roles=actor.roles, target_user_id=user.id,
                       target_role=user.role)
    old = user.status
    check_transition(old, target)
    user.status = target
    if target == AccountStatus.DEACTIVATED:
        await repository.revoke_user_sessions(session, user_id=user.id)
    await session.flush()
    await user_event(session, STATUS_EVENTS[AccountStatus(target)], user, actor=actor,
                     changes={"status": {"from": old, "to": target}})
    return user
