"""Admin API for promotions (coupon codes)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mercato.platform.auth import require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep, page_of
from mercato.platform.security import Permission, Principal
from mercato.promotions import service
from mercato.promotions.schemas import Promotion, PromotionCreate, PromotionList, PromotionUpdate

router = APIRouter(prefix="/promotions", tags=["promotions"])
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
Writer = Annotated[Principal, require(Permission.ORDERS_WRITE)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Promotion, summary="Create a promotion",
             responses=problem_schema_responses(401, 403, 409, 422))
async def create_promotion(data: PromotionCreate, session: SessionDep, _: Writer) -> Promotion:
    return Promotion.model_validate(await service.create_promotion(session, data))


@router.get("", response_model=PromotionList, summary="List promotions, newest first",
            responses=problem_schema_responses(401, 403))
async def list_promotions(session: SessionDep, _: Reader, page: PageDep,
                          code: Annotated[str | None, Query(max_length=64, description="Code prefix")] = None,
                          active: bool | None = None) -> PromotionList:
    rows = await service.list_promotions(session, limit=page.limit, offset=page.offset, code=code, active=active)
    rows, has_more, _cursor = page_of(rows, page, key=lambda p: [p.created_at, p.id])
    return PromotionList(items=[Promotion.model_validate(p) for p in rows], has_more=has_more, next_cursor=None)


@router.get("/{promotion_id}", response_model=Promotion, summary="Get a promotion",
            responses=problem_schema_responses(401, 403, 404))
async def get_promotion(promotion_id: uuid.UUID, session: SessionDep, _: Reader) -> Promotion:
    return Promotion.model_validate(await service.get_promotion(session, promotion_id))


@router.patch("/{promotion_id}", response_model=Promotion, summary="Update a promotion",
              responses=problem_schema_responses(401, 403, 404, 409, 422))
async def update_promotion(promotion_id: uuid.UUID, data: PromotionUpdate, session: SessionDep,
                           _: Writer) -> Promotion:
    return Promotion.model_validate(await service.update_promotion(session, promotion_id, data))


@router.delete("/{promotion_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete an unused promotion",
               responses=problem_schema_responses(401, 403, 404, 409))
async def delete_promotion(promotion_id: uuid.UUID, session: SessionDep, _: Writer) -> Response:
    await service.delete_promotion(session, promotion_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
