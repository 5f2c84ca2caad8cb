"""Webhooks HTTP API (``/api/v1``): endpoints, secret rotation, test events, deliveries, replay.

Admin and owner only (``webhooks:manage``). A tenant never sees another tenant's endpoints or
deliveries: they are 404 (RLS and the tenant filter in every query).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.pagination import InvalidCursor, PageDep, PageParams, page_of
from mercato.webhooks import schemas, service
from mercato.webhooks.auth import WebhooksManage
from mercato.webhooks.models import WebhookDelivery

router = APIRouter(tags=["webhooks"])

_R = problem_schema_responses


def _cursor(page: PageParams) -> tuple[datetime, uuid.UUID] | None:
    if not page.cursor:
        return None
    c = page.cursor
    if len(c) != 2 or not isinstance(c[0], datetime) or not isinstance(c[1], uuid.UUID):
        raise InvalidCursor(field="query.cursor")
    return c[0], c[1]


def _endpoint(e: object) -> schemas.WebhookEndpoint:
    return schemas.WebhookEndpoint.model_validate(e)


async def _detail(session: SessionDep, delivery_id: uuid.UUID) -> schemas.WebhookDeliveryDetail:
    delivery, attempts = await service.get_delivery(session, delivery_id)
    return schemas.WebhookDeliveryDetail(
        **schemas.WebhookDelivery.model_validate(delivery).model_dump(), payload=delivery.payload,
        attempt_log=[schemas.WebhookAttempt.model_validate(a) for a in attempts])


# --------------------------------------------------------------------------- endpoints


@router.post("/webhook-endpoints", status_code=status.HTTP_201_CREATED, response_model=schemas.WebhookEndpointCreated,
             summary="Create a webhook endpoint",
             description="The response carries the signing secret (`whsec_…`) — the only time it is shown.",
             responses=_R(401, 403, 422))
async def create_endpoint(data: schemas.WebhookEndpointCreate, session: SessionDep,
                          principal: WebhooksManage) -> schemas.WebhookEndpointCreated:
    endpoint, secret = await service.create_endpoint(session, data, principal)
    return schemas.WebhookEndpointCreated(**_endpoint(endpoint).model_dump(), secret=secret)


@router.get("/webhook-endpoints", response_model=schemas.WebhookEndpointList, summary="List webhook endpoints",
            description="Oldest first. Paginated (`limit`, `offset`/`cursor`). Secrets are never listed.",
            responses=_R(400, 401, 403))
async def list_endpoints(session: SessionDep, _: WebhooksManage, page: PageDep) -> schemas.WebhookEndpointList:
    rows = await service.list_endpoints(session, limit=page.limit, offset=page.offset, after=_cursor(page))
    rows, has_more, cursor = page_of(rows, page, key=lambda e: [e.created_at, e.id])
    return schemas.WebhookEndpointList(items=[_endpoint(e) for e in rows], has_more=has_more, next_cursor=cursor)


@router.get("/webhook-endpoints/{endpoint_id}", response_model=schemas.WebhookEndpoint,
            summary="Get a webhook endpoint", responses=_R(401, 403, 404))
async def get_endpoint(endpoint_id: uuid.UUID, session: SessionDep, _: WebhooksManage) -> schemas.WebhookEndpoint:
    return _endpoint(await service.get_endpoint(session, endpoint_id))


@router.patch("/webhook-endpoints/{endpoint_id}", response_model=schemas.WebhookEndpoint,
              summary="Update a webhook endpoint",
              description="`enabled: false` pauses its deliveries; `enabled: true` resumes them (also after the "
                          "platform disabled a failing endpoint).", responses=_R(401, 403, 404, 422))
async def update_endpoint(endpoint_id: uuid.UUID, data: schemas.WebhookEndpointUpdate, session: SessionDep,
                          principal: WebhooksManage) -> schemas.WebhookEndpoint:
    return _endpoint(await service.update_endpoint(session, endpoint_id, data, principal))


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a webhook endpoint", description="Its deliveries and their attempt log go with it.",
               responses=_R(401, 403, 404))
async def delete_endpoint(endpoint_id: uuid.UUID, session: SessionDep, principal: WebhooksManage) -> Response:
    await service.delete_endpoint(session, endpoint_id, principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhook-endpoints/{endpoint_id}/rotate-secret", response_model=schemas.SecretRotated,
             summary="Rotate a webhook endpoint's signing secret",
             description="Returns the new secret (shown once). For 24 hours every delivery carries two "
                         "signatures, one per secret, so receivers can switch without losing events.",
             responses=_R(401, 403, 404))
async def rotate_secret(endpoint_id: uuid.UUID, session: SessionDep, principal: WebhooksManage) -> schemas.SecretRotated:
    endpoint, secret = await service.rotate_secret(session, endpoint_id, principal)
    assert endpoint.previous_secret_expires_at is not None
    return schemas.SecretRotated(endpoint=_endpoint(endpoint), secret=secret,
                                 previous_secret_expires_at=endpoint.previous_secret_expires_at)


@router.post("/webhook-endpoints/{endpoint_id}/test", response_model=schemas.WebhookDeliveryDetail,
             summary="Send a test event to a webhook endpoint",
             description="Sends a `webhook.test` event now and returns the delivery with the attempt's result "
                         "(a failed test is retried on the usual schedule).", responses=_R(401, 403, 404))
async def send_test(endpoint_id: uuid.UUID, session: SessionDep, principal: WebhooksManage
                    ) -> schemas.WebhookDeliveryDetail:
    delivery = await service.send_test(session, endpoint_id, principal)
    return await _detail(session, delivery.id)


# --------------------------------------------------------------------------- deliveries


@router.get("/webhook-endpoints/{endpoint_id}/deliveries", response_model=schemas.WebhookDeliveryList,
            summary="List an endpoint's deliveries",
            description="Newest first; filter by `status`. Paginated (`limit`, `offset`/`cursor`).",
            responses=_R(400, 401, 403, 404))
async def list_deliveries(endpoint_id: uuid.UUID, session: SessionDep, _: WebhooksManage, page: PageDep,
                          status_: Annotated[schemas.DeliveryStatus | None, Query(alias="status")] = None
                          ) -> schemas.WebhookDeliveryList:
    rows = await service.list_deliveries(session, endpoint_id, status=status_, limit=page.limit, offset=page.offset,
                                         before=_cursor(page))
    rows, has_more, cursor = page_of(rows, page, key=lambda d: [d.created_at, d.id])
    return schemas.WebhookDeliveryList(items=[schemas.WebhookDelivery.model_validate(d) for d in rows],
                                       has_more=has_more, next_cursor=cursor)


@router.get("/webhook-deliveries/{delivery_id}", response_model=schemas.WebhookDeliveryDetail,
            summary="Get a webhook delivery with its attempts", responses=_R(401, 403, 404))
async def get_delivery(delivery_id: uuid.UUID, session: SessionDep, _: WebhooksManage
                       ) -> schemas.WebhookDeliveryDetail:
    return await _detail(session, delivery_id)


@router.post("/webhook-deliveries/{delivery_id}/replay", response_model=schemas.WebhookDeliveryDetail,
             summary="Replay a webhook delivery",
             description="Sends the delivery again now, with the same `webhook-id` and body (a fresh timestamp and "
                         "signature), and returns it with the new attempt. Any delivery can be replayed.",
             responses=_R(401, 403, 404))
async def replay_delivery(delivery_id: uuid.UUID, session: SessionDep, principal: WebhooksManage
                          ) -> schemas.WebhookDeliveryDetail:
    delivery: WebhookDelivery = await service.replay(session, delivery_id, principal)
    return await _detail(session, delivery.id)
