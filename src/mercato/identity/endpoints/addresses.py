"""A signed-in user's own addresses (``/users/me/addresses``)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status

from mercato.identity.schemas import Address, AddressCreate, AddressList, AddressUpdate
from mercato.identity.service import addresses
from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.security import Permission, Principal

router = APIRouter(prefix="/users/me/addresses", tags=["users"])
Own = Annotated[Principal, require(Permission.ADDRESSES)]


@router.get("", response_model=AddressList, summary="My addresses (default first)",
            responses=problem_schema_responses(401, 403))
async def list_addresses(session: SessionDep, principal: Own) -> AddressList:
    return AddressList(items=[Address.model_validate(a) for a in await addresses.list_addresses(session, principal)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Address, summary="Add an address",
             description="`country`: ISO 3166-1 alpha-2; `phone`: E.164 (or national, read in the address's "
                         "country). The first address becomes the default.",
             responses=problem_schema_responses(401, 403, 422))
async def create_address(data: AddressCreate, session: SessionDep, principal: Own) -> Address:
    return Address.model_validate(await addresses.create_address(session, principal, data.model_dump()))


@router.get("/{address_id}", response_model=Address, summary="One of my addresses",
            responses=problem_schema_responses(401, 403, 404))
async def get_address(address_id: uuid.UUID, session: SessionDep, principal: Own) -> Address:
    return Address.model_validate(await addresses.get_address(session, principal, address_id))


@router.patch("/{address_id}", response_model=Address, summary="Update one of my addresses",
              description="`is_default: true` makes it the default (the previous default is unset).",
              responses=problem_schema_responses(401, 403, 404, 422))
async def update_address(address_id: uuid.UUID, data: AddressUpdate, session: SessionDep, principal: Own) -> Address:
    return Address.model_validate(await addresses.update_address(session, principal, address_id,
                                                                 data.model_dump(exclude_unset=True)))


@router.delete("/{address_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete one of my addresses",
               description="Deleting the default makes the newest remaining address the default.",
               responses=problem_schema_responses(401, 403, 404))
async def delete_address(address_id: uuid.UUID, session: SessionDep, principal: Own) -> Response:
    await addresses.delete_address(session, principal, address_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
