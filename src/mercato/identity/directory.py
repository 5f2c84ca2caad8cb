"""What other modules may know about users: contact details, never credentials.

Notifications sits below identity in the module layers, so identity installs these
lookups into it (``notifications.set_directory``) rather than notifications importing identity.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import mercato.notifications as notifications
from mercato.identity import repository
from mercato.identity.models import User


def _contact(user: User) -> notifications.Contact:
    return notifications.Contact(user_id=user.id, email=user.email, phone=user.phone, locale=user.locale or "en",
                                 first_name=user.first_name, last_name=user.last_name, role=user.role,
                                 status=user.status)


async def get_contact(session: AsyncSession, user_id: uuid.UUID) -> notifications.Contact | None:
    """A user's contact details in the session's tenant (None if unknown there)."""
    user = await repository.get_user(session, user_id)
    return _contact(user) if user is not None else None


async def staff_contacts(session: AsyncSession, roles: Collection[str]) -> list[notifications.Contact]:
    """Active users of the session's tenant with one of ``roles``, oldest first."""
    rows = (await session.execute(
        select(User).where(User.role.in_(list(roles)), User.status == "active").order_by(User.created_at)
    )).scalars().all()
    return [_contact(u) for u in rows]


def install() -> None:
    notifications.set_directory(contact=get_contact, staff=staff_contacts)
