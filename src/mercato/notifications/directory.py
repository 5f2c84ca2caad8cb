"""Who to write to: the contact details of users, provided by the identity module.

Notifications sit *below* identity in the module layers (identity asks notifications to
send its emails), so notifications cannot import identity. Identity plugs its lookups in
instead, once, at import time::

    notifications.set_directory(contact=..., staff=...)

``contact(session, user_id)`` returns a :class:`Contact` or ``None``; ``staff(session,
roles)`` returns the active users of the session's tenant with one of ``roles``. Both run
in the caller's tenant transaction. Until a directory is set, messages that need one are
skipped with a warning (messages whose event carries the address still go out).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("mercato.notifications")


@dataclass(frozen=True)
class Contact:
    user_id: uuid.UUID | None
    email: str | None
    phone: str | None = None
    locale: str = "en"
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    status: str = "active"


ContactLookup = Callable[[AsyncSession, uuid.UUID], Awaitable[Contact | None]]
StaffLookup = Callable[[AsyncSession, Collection[str]], Awaitable[list[Contact]]]

_contact: ContactLookup | None = None
_staff: StaffLookup | None = None


def set_directory(*, contact: ContactLookup | None, staff: StaffLookup | None) -> None:
    """Install (or, with ``None``, remove) the lookups. Last call wins."""
    global _contact, _staff
    _contact, _staff = contact, staff


def has_directory() -> bool:
    return _contact is not None


async def contact(session: AsyncSession, user_id: uuid.UUID) -> Contact | None:
    if _contact is None:
        log.warning("no contact directory installed; cannot look up user %s", user_id)
        return None
    return await _contact(session, user_id)


async def staff(session: AsyncSession, roles: Collection[str]) -> list[Contact]:
    if _staff is None:
        log.warning("no contact directory installed; cannot list staff with roles %s", sorted(roles))
        return []
    return await _staff(session, roles)
