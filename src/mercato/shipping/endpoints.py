"""Admin API: shipping zones and methods."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep, page_of
from mercato.platform.security import Permission, Principal
from mercato.shipping import service
from mercato.shipping.schemas import (
    Method,
    MethodCreate,
    MethodList,
    MethodUpdate,
    Zone,
    ZoneCreate,
    ZoneList,
    ZoneUpdate,
)

router = APIRouter(tags=["shipping"])
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
Writer = Annotated[Principal, require(Permission.ORDERS_WRITE)]


@router.post("/shipping-zones", status_code=status.HTTP_201_CREATED, response_model=Zone,
             summary="Create a shipping zone", responses=problem_schema_responses(401, 403, 422))
async def create_zone(data: ZoneCreate, session: SessionDep, _: Writer) -> Zone:
    return Zone.model_validate(await service.create_zone(session, data))


@router.get("/shipping-zones", response_model=ZoneList, summary="List shipping zones",
            responses=problem_schema_responses(401, 403))
async def list_zones(session: SessionDep, _: Reader, page: PageDep) -> ZoneList:
    rows = await service.list_zones(session, limit=page.limit, offset=page.offset)
    rows, has_more, _cursor = page_of(rows, page, key=lambda z: [z.id])
    return ZoneList(items=[Zone.model_validate(z) for z in rows], has_more=has_more)


@router.get("/shipping-zones/{zone_id}", response_model=Zone, summary="Get a shipping zone",
            responses=problem_schema_responses(401, 403, 404))
async def get_zone(zone_id: uuid.UUID, session: SessionDep, _: Reader) -> Zone:
    return Zone.model_validate(await service.get_zone(session, zone_id))


@router.patch("/shipping-zones/{zone_id}", response_model=Zone, summary="Update a shipping zone",
              responses=problem_schema_responses(401, 403, 404, 422))
async def update_zone(zone_id: uuid.UUID, data: ZoneUpdate, session: SessionDep, _: Writer) -> Zone:
    return Zone.model_validate(await service.update_zone(session, zone_id, data))


@router.delete("/shipping-zones/{zone_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a shipping zone and its methods", responses=problem_schema_responses(401, 403, 404))
async def delete_zone(zone_id: uuid.UUID, session: SessionDep, _: Writer) -> Response:
    await service.delete_zone(session, zone_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/shipping-methods", status_code=status.HTTP_201_CREATED, response_model=Method,
             summary="Create a shipping method in a zone", responses=problem_schema_responses(401, 403, 404, 422))
async def create_method(data: MethodCreate, session: SessionDep, _: Writer) -> Method:
    return Method.model_validate(await service.create_method(session, data))


@router.get("/shipping-methods", response_model=MethodList, summary="List shipping methods",
            responses=problem_schema_responses(401, 403))
async def list_methods(session: SessionDep, _: Reader, page: PageDep,
                       zone_id: Annotated[uuid.UUID | None, Query()] = None) -> MethodList:
    rows = await service.list_methods(session, limit=page.limit, offset=page.offset, zone_id=zone_id)
    rows, has_more, _cursor = page_of(rows, page, key=lambda m: [m.id])
    return MethodList(items=[Method.model_validate(m) for m in rows], has_more=has_more)


@router.get("/shipping-methods/{method_id}", response_model=Method, summary="Get a shipping method",
            responses=problem_schema_responses(401, 403, 404))
async def get_method(method_id: uuid.UUID, session: SessionDep, _: Reader) -> Method:
    return Method.model_validate(await service.get_method(session, method_id))


@router.patch("/shipping-methods/{method_id}", response_model=Method, summary="Update a shipping method",
              responses=problem_schema_responses(401, 403, 404, 422))
async def update_method(method_id: uuid.UUID, data: MethodUpdate, session: SessionDep, _: Writer) -> Method:
    return Method.model_validate(await service.update_method(session, method_id, data))


@router.delete("/shipping-methods/{method_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a shipping method", responses=problem_schema_responses(401, 403, 404))
async def delete_method(method_id: uuid.UUID, session: SessionDep, _: Writer) -> Response:
    await service.delete_method(session, method_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
