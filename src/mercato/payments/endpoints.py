"""Payments HTTP API (staff) and the Stripe webhook receiver."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

import mercato.audit as audit
from mercato.payments import service
from mercato.payments.auth import PaymentsRead, PaymentsWrite
from mercato.payments.schemas import (
    CaptureRequest,
    Payment,
    PaymentList,
    PaymentStatusName,
    RefundCreate,
    RefundResult,
    WebhookReceipt,
)
from mercato.platform.auth import Public
from mercato.platform.db import SessionDep, set_tenant
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import PageDep

router = APIRouter(tags=["payments"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                              description="Retrying with the same key never refunds twice.")]


async def _audit(session, action: str, payment: Payment, before: str, **changes) -> None:  # type: ignore[no-untyped-def]
    await audit.record(session, action=action, resource_type="payment", resource_id=payment.id,
                       changes={"status": {"from": before, "to": payment.status}, **changes})


@router.get("/payments", response_model=PaymentList, summary="List payments (optionally of one order)",
            responses=problem_schema_responses(400, 401, 403))
async def list_payments(session: SessionDep, _: PaymentsRead, page: PageDep,
                        order_id: Annotated[uuid.UUID | None, Query()] = None,
                        status_: Annotated[PaymentStatusName | None, Query(alias="status")] = None) -> PaymentList:
    items, has_more = await service.list_payments(session, order_id=order_id, status=status_, limit=page.limit,
                                                  offset=page.offset)
    return PaymentList(items=items, has_more=has_more)


@router.get("/payments/{payment_id}", response_model=Payment, summary="Get a payment with its refunds",
            responses=problem_schema_responses(401, 403, 404))
async def get_payment(payment_id: uuid.UUID, session: SessionDep, _: PaymentsRead) -> Payment:
    return await service.get_payment(session, payment_id)


@router.post("/payments/{payment_id}/capture", response_model=Payment, summary="Capture an authorized payment",
             responses=problem_schema_responses(401, 403, 404, 409, 422, 503))
async def capture_payment(payment_id: uuid.UUID, session: SessionDep, _: PaymentsWrite,
                          data: CaptureRequest | None = None) -> Payment:
    before = (await service.get_payment(session, payment_id)).status
    payment = await service.capture(session, payment_id, data.amount if data else None)
    await _audit(session, "payment.captured", payment, before, amount_captured=payment.amount_captured)
    return payment


@router.post("/payments/{payment_id}/cancel", response_model=Payment, summary="Cancel a payment that took no money",
             responses=problem_schema_responses(401, 403, 404, 409, 503))
async def cancel_payment(payment_id: uuid.UUID, session: SessionDep, _: PaymentsWrite) -> Payment:
    before = (await service.get_payment(session, payment_id)).status
    payment = await service.cancel(session, payment_id)
    await _audit(session, "payment.cancelled", payment, before)
    return payment


@router.post("/payments/{payment_id}/mark-paid", response_model=Payment,
             summary="Mark a manual (cash on delivery) payment as paid",
             responses=problem_schema_responses(401, 403, 404, 409))
async def mark_paid(payment_id: uuid.UUID, session: SessionDep, _: PaymentsWrite) -> Payment:
    before = (await service.get_payment(session, payment_id)).status
    payment = await service.mark_paid(session, payment_id)
    await _audit(session, "payment.marked_paid", payment, before)
    return payment


@router.post("/payments/{payment_id}/refunds", response_model=RefundResult, status_code=status.HTTP_201_CREATED,
             summary="Refund all or part of a captured payment",
             responses=problem_schema_responses(401, 403, 404, 409, 422, 503))
async def create_refund(payment_id: uuid.UUID, data: RefundCreate, session: SessionDep, _: PaymentsWrite,
                        idempotency_key: IdempotencyKey = None) -> RefundResult:
    result = await service.refund(session, payment_id, data.amount, data.reason, idempotency_key)
    if not result.replayed:
        await audit.record(session, action="payment.refunded", resource_type="payment", resource_id=payment_id,
                           changes={"refund": {"from": None, "to": {"id": str(result.refund.id),
                                                                     "amount": result.refund.amount,
                                                                     "status": result.refund.status}}})
    return result


@router.post("/webhooks/stripe", response_model=WebhookReceipt,
             summary="Stripe webhook receiver (signed by Stripe; no credentials)",
             responses=problem_schema_responses(400, 503))
async def stripe_webhook(request: Request, session: SessionDep, _: Public,
                         stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None
                         ) -> WebhookReceipt:
    payload = await request.body()
    event = service.verify_stripe_event(payload, stripe_signature)
    if event["type"] not in service.HANDLED_EVENT_TYPES:
        return WebhookReceipt(outcome="ignored")
    metadata = await service.event_metadata(event)
    tenant_id = service.tenant_of_event(metadata)
    if tenant_id is None:
        return WebhookReceipt(outcome="ignored")
    # Only now, from a verified payload, does the request get a tenant.
    await set_tenant(session, tenant_id)
    return WebhookReceipt(outcome=await service.handle_stripe_event(session, event, metadata))
