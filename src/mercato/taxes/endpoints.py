"""Admin API: tax rates and the shop's tax settings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep, page_of
from mercato.platform.security import Permission, Principal
from mercato.taxes import service
from mercato.taxes.schemas import TaxRate, TaxRateCreate, TaxRateList, TaxRateUpdate, TaxSettingsIn, TaxSettingsOut

router = APIRouter(tags=["taxes"])
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
Writer = Annotated[Principal, require(Permission.ORDERS_WRITE)]
SettingsWriter = Annotated[Principal, require(Permission.TENANT_SETTINGS)]


@router.post("/tax-rates", status_code=status.HTTP_201_CREATED, response_model=TaxRate, summary="Create a tax rate",
             responses=problem_schema_responses(401, 403, 409, 422))
async def create_rate(data: TaxRateCreate, session: SessionDep, _: Writer) -> TaxRate:
    return TaxRate.model_validate(await service.create_rate(session, data))


@router.get("/tax-rates", response_model=TaxRateList, summary="List tax rates",
            responses=problem_schema_responses(401, 403))
async def list_rates(session: SessionDep, _: Reader, page: PageDep,
                     country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
                     tax_class: Annotated[str | None, Query(max_length=50)] = None) -> TaxRateList:
    rows = await service.list_rates(session, limit=page.limit, offset=page.offset, country=country,
                                    tax_class=tax_class)
    rows, has_more, _cursor = page_of(rows, page, key=lambda r: [r.id])
    return TaxRateList(items=[TaxRate.model_validate(r) for r in rows], has_more=has_more)


@router.get("/tax-rates/{rate_id}", response_model=TaxRate, summary="Get a tax rate",
            responses=problem_schema_responses(401, 403, 404))
async def get_rate(rate_id: uuid.UUID, session: SessionDep, _: Reader) -> TaxRate:
    return TaxRate.model_validate(await service.get_rate(session, rate_id))


@router.patch("/tax-rates/{rate_id}", response_model=TaxRate, summary="Update a tax rate",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def update_rate(rate_id: uuid.UUID, data: TaxRateUpdate, session: SessionDep, _: Writer) -> TaxRate:
    return TaxRate.model_validate(await service.update_rate(session, rate_id, data))


@router.delete("/tax-rates/{rate_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a tax rate",
               responses=problem_schema_responses(401, 403, 404))
async def delete_rate(rate_id: uuid.UUID, session: SessionDep, _: Writer) -> Response:
    await service.delete_rate(session, rate_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/tax-settings", response_model=TaxSettingsOut, summary="The shop's tax settings",
            responses=problem_schema_responses(401, 403))
async def get_settings(session: SessionDep, _: Reader) -> TaxSettingsOut:
    s = await service.get_tax_settings(session)
    return TaxSettingsOut(prices_include_tax=s.prices_include_tax, shipping_tax_class=s.shipping_tax_class)


@router.put("/tax-settings", response_model=TaxSettingsOut, summary="Change the shop's tax settings",
            responses=problem_schema_responses(401, 403, 422))
async def put_settings(data: TaxSettingsIn, session: SessionDep, _: SettingsWriter) -> TaxSettingsOut:
    s = await service.put_tax_settings(session, data)
    return TaxSettingsOut(prices_include_tax=s.prices_include_tax, shipping_tax_class=s.shipping_tax_class)
