"""A customer's own addresses. Exactly one default once there is any address."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.identity import repository
from mercato.identity.domain import normalize_country, normalize_phone
from mercato.identity.errors import AddressNotFound
from mercato.identity.models import Address
from mercato.identity.service.accounts import require_user
from mercato.platform.security import Principal

FIELDS = ("first_name", "last_name", "company", "line1", "line2", "city", "region", "postal_code", "country",
          "phone", "is_default")


async def _lock_owner(session: AsyncSession, principal: Principal) -> uuid.UUID:
    """Serialise a user's address writes on their user row, so 'one default' holds under concurrency."""
    user_id = require_user(principal)
    await repository.get_user(session, user_id, for_update=True)
    return user_id


def _normalize(values: dict[str, Any], country: str | None) -> dict[str, Any]:
    if values.get("country") is not None:
        values["country"] = normalize_country(values["country"])
    if values.get("phone"):
        values["phone"] = normalize_phone(values["phone"], region=values.get("country") or country)
    return values


async def list_addresses(session: AsyncSession, principal: Principal) -> list[Address]:
    return await repository.list_addresses(session, require_user(principal))


async def get_address(session: AsyncSession, principal: Principal, address_id: uuid.UUID) -> Address:
    address = await repository.get_address(session, require_user(principal), address_id)
    if address is None:
        raise AddressNotFound()
    return address


async def create_address(session: AsyncSession, principal: Principal, values: dict[str, Any]) -> Address:
    user_id = await _lock_owner(session, principal)
    values = _normalize(values, None)
    first = await repository.count_addresses(session, user_id) == 0
    if first or values.get("is_default"):
        await repository.clear_default_address(session, user_id)
        values["is_default"] = True
    address = Address(tenant_id=principal.tenant_id, user_id=user_id, **values)
    session.add(address)
    await session.flush()
    await session.refresh(address)
    await audit.record(session, action="address.created", resource_type="address", resource_id=address.id,
                       changes={k: {"from": None, "to": v} for k, v in values.items() if v is not None})
    return address


async def update_address(session: AsyncSession, principal: Principal, address_id: uuid.UUID,
                         values: dict[str, Any]) -> Address:
    user_id = await _lock_owner(session, principal)
    address = await get_address(session, principal, address_id)
    values = _normalize(values, address.country)
    if values.get("is_default") is False and address.is_default:
        values.pop("is_default")  # the default moves by making another address default, never to none
    if values.get("is_default"):
        await repository.clear_default_address(session, user_id, except_id=address.id)
    before = {k: getattr(address, k) for k in values}
    for key, value in values.items():
        if value is None and key in ("first_name", "last_name", "line1", "city", "country", "is_default"):
            continue  # required fields cannot be cleared
        setattr(address, key, value)
    await session.flush()
    await session.refresh(address)
    changes = audit.diff(before, {k: getattr(address, k) for k in values})
    if changes:
        await audit.record(session, action="address.updated", resource_type="address", resource_id=address.id,
                           changes=changes)
    return address


async def delete_address(session: AsyncSession, principal: Principal, address_id: uuid.UUID) -> None:
    user_id = await _lock_owner(session, principal)
    address = await get_address(session, principal, address_id)
    was_default = address.is_default
    await session.delete(address)
    await session.flush()
    if was_default:
        successor = await repository.newest_address(session, user_id)
        if successor is not None:
            successor.is_default = True
            await session.flush()
    await audit.record(session, action="address.deleted", resource_type="address", resource_id=address_id)
