"""Returns HTTP API: customers (their own orders), guests (order number + email), staff."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query

from mercato.platform.auth import PermissionDenied, Public
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep
from mercato.platform.security import Principal
from mercato.returns import service
from mercato.returns.auth import OwnReturns, ReturnsRead, ReturnsWrite
from mercato.returns.errors import TenantRequired
from mercato.returns.repository import ReturnFilter
from mercato.returns.schemas import (
    ApproveRequest,
    CancelReturnRequest,
    CloseRequest,
    ExchangeRequest,
    GuestReturnCreate,
    ReceiveRequest,
    RefundRequest,
    RefundResult,
    RejectRequest,
    Return,
    ReturnCreate,
    ReturnList,
    ReturnSettings,
    ReturnSettingsUpdate,
    ReturnStatusName,
    StaffReturnCreate,
)

router = APIRouter(tags=["returns"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                              description="Required: a retry with the same key never refunds twice.")]


def _customer_id(principal: Principal) -> uuid.UUID:
    if principal.user_id is None:
        raise PermissionDenied("these are a signed-in customer's own returns: sign in as the customer")
    return principal.user_id


# --------------------------------------------------------------------------- customers


@router.post("/returns/mine", status_code=201, response_model=Return,
             summary="Request a return (or exchange) of delivered items of my order, with a reason per line",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def request_my_return(data: ReturnCreate, session: SessionDep, principal: OwnReturns) -> Return:
    return await service.request_customer_return(session, _customer_id(principal), data, actor=principal)


@router.get("/returns/mine", response_model=ReturnList, summary="List my returns (newest first)",
            responses=problem_schema_responses(400, 401, 403))
async def list_my_returns(session: SessionDep, principal: OwnReturns, page: PageDep) -> ReturnList:
    return await service.list_returns(session, ReturnFilter(customer_id=_customer_id(principal)), page)


@router.get("/returns/mine/{return_id}", response_model=Return, summary="Get one of my returns",
            responses=problem_schema_responses(401, 403, 404))
async def get_my_return(return_id: uuid.UUID, session: SessionDep, principal: OwnReturns) -> Return:
    return await service.get_customer_return(session, _customer_id(principal), return_id)


@router.post("/returns/mine/{return_id}/cancel", response_model=Return,
             summary="Withdraw my return request (before the parcel is received)",
             responses=problem_schema_responses(401, 403, 404, 409))
async def cancel_my_return(return_id: uuid.UUID, session: SessionDep, principal: OwnReturns,
                           data: CancelReturnRequest | None = None) -> Return:
    await service.get_customer_return(session, _customer_id(principal), return_id)  # 404 unless theirs
    return await service.cancel(session, return_id, reason=(data.reason if data else None) or "withdrawn by the "
                                "customer", actor=principal)


# --------------------------------------------------------------------------- guests


@router.post("/returns/guest", status_code=201, response_model=Return,
             summary="Request a return of a guest order (proof: order number and email)",
             responses=problem_schema_responses(404, 409, 422))
async def request_guest_return(data: GuestReturnCreate, session: SessionDep, principal: Public) -> Return:
    if principal.tenant_id is None:
        raise TenantRequired()
    return await service.request_guest_return(session, data, actor=principal)


@router.get("/returns/guest/{return_id}", response_model=Return,
            summary="Follow a guest return (same proof: order number and email)",
            responses=problem_schema_responses(404, 422))
async def get_guest_return(return_id: uuid.UUID, session: SessionDep, principal: Public,
                           number: Annotated[str, Query(min_length=1, max_length=32)],
                           email: Annotated[str, Query(min_length=3, max_length=320)]) -> Return:
    if principal.tenant_id is None:
        raise TenantRequired()
    return await service.get_guest_return(session, return_id, number, email)


# --------------------------------------------------------------------------- staff


@router.get("/returns/settings", response_model=ReturnSettings, summary="Get the shop's return settings",
            responses=problem_schema_responses(401, 403))
async def get_return_settings(session: SessionDep, _: ReturnsRead) -> ReturnSettings:
    return await service.get_settings(session)


@router.patch("/returns/settings", response_model=ReturnSettings,
              summary="Change the return window (days after delivery) and default instructions",
              responses=problem_schema_responses(401, 403, 422))
async def update_return_settings(data: ReturnSettingsUpdate, session: SessionDep,
                                 principal: ReturnsWrite) -> ReturnSettings:
    return await service.update_settings(session, data, actor=principal)


@router.get("/returns", response_model=ReturnList, summary="List and filter returns (newest first)",
            responses=problem_schema_responses(400, 401, 403))
async def list_returns(session: SessionDep, _: ReturnsRead, page: PageDep,
                       status: Annotated[list[ReturnStatusName] | None, Query()] = None,
                       order_id: Annotated[uuid.UUID | None, Query()] = None,
                       customer_id: Annotated[uuid.UUID | None, Query()] = None) -> ReturnList:
    filters = ReturnFilter(status=list(status or []) or None, order_id=order_id, customer_id=customer_id)
    return await service.list_returns(session, filters, page)


@router.post("/returns", status_code=201, response_model=Return,
             summary="Open a return for a customer (any delivered order; the window may be waived)",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def create_return(data: StaffReturnCreate, session: SessionDep, principal: ReturnsWrite) -> Return:
    return await service.request_return(session, data.order_id, data.lines, note=data.note, requested_by="staff",
                                        actor=principal, ignore_window=data.ignore_window)


@router.get("/returns/{return_id}", response_model=Return, summary="Get a return with its lines and refunds",
            responses=problem_schema_responses(401, 403, 404))
async def get_return(return_id: uuid.UUID, session: SessionDep, _: ReturnsRead) -> Return:
    return await service.get_return(session, return_id)


@router.post("/returns/{return_id}/approve", response_model=Return,
             summary="Approve: the return gets its RMA number and instructions (emailed to the customer)",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def approve_return(return_id: uuid.UUID, session: SessionDep, principal: ReturnsWrite,
                         data: ApproveRequest | None = None) -> Return:
    return await service.approve(session, return_id, data or ApproveRequest(), actor=principal)


@router.post("/returns/{return_id}/reject", response_model=Return, summary="Reject with a note for the customer",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def reject_return(return_id: uuid.UUID, data: RejectRequest, session: SessionDep,
                        principal: ReturnsWrite) -> Return:
    return await service.reject(session, return_id, data, actor=principal)


@router.post("/returns/{return_id}/cancel", response_model=Return,
             summary="Cancel a return not yet received", responses=problem_schema_responses(401, 403, 404, 409))
async def cancel_return(return_id: uuid.UUID, session: SessionDep, principal: ReturnsWrite,
                        data: CancelReturnRequest | None = None) -> Return:
    return await service.cancel(session, return_id, reason=(data.reason if data else None) or "cancelled by staff",
                                actor=principal)


@router.post("/returns/{return_id}/receive", response_model=Return,
             summary="Receive the parcel: condition per line; resellable units restocked at a chosen location",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def receive_return(return_id: uuid.UUID, data: ReceiveRequest, session: SessionDep,
                         principal: ReturnsWrite) -> Return:
    return await service.receive(session, return_id, data, actor=principal)


@router.post("/returns/{return_id}/refunds", status_code=201, response_model=RefundResult,
             summary="Refund a received return through the original payment (full or partial, shipping optional)",
             responses=problem_schema_responses(401, 403, 404, 409, 422, 503))
async def refund_return(return_id: uuid.UUID, session: SessionDep, principal: ReturnsWrite,
                        idempotency_key: IdempotencyKey = None, data: RefundRequest | None = None) -> RefundResult:
    return await service.refund(session, return_id, data or RefundRequest(), idempotency_key=idempotency_key,
                                actor=principal)


@router.post("/returns/{return_id}/close", response_model=Return,
             summary="Complete a received return without refunding the rest (e.g. a restocking fee)",
             responses=problem_schema_responses(401, 403, 404, 409, 422))
async def close_return(return_id: uuid.UUID, session: SessionDep, principal: ReturnsWrite,
                       data: CloseRequest | None = None) -> Return:
    return await service.close(session, return_id, note=data.note if data else None, actor=principal)


@router.post("/returns/{return_id}/exchange", response_model=Return,
             summary="Make the exchange's replacement order; charge or refund the difference",
             responses=problem_schema_responses(401, 403, 404, 409, 422, 503))
async def exchange_return(return_id: uuid.UUID, session: SessionDep, principal: ReturnsWrite,
                          data: ExchangeRequest | None = None) -> Return:
    return await service.exchange(session, return_id, data or ExchangeRequest(), actor=principal)
