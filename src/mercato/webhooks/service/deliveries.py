"""Deliveries: created from events (fan-out), sent, recorded, retried, replayed; endpoints that
keep failing are disabled and their owner told."""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.platform.events import Event, publish
from mercato.platform.security import Principal
from mercato.webhooks import domain, repository, transport
from mercato.webhooks.errors import DeliveryNotFound
from mercato.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from mercato.webhooks.service.endpoints import AGGREGATE, get_endpoint, production

log = logging.getLogger("mercato.webhooks")



# --------------------------------------------------------------------------- fan-out


async def fan_out(session: AsyncSession, event: Event, *, now: datetime | None = None) -> int:
    """One delivery per enabled endpoint of the event's tenant that wants it; an event seen
    again creates nothing new (unique endpoint + event). Returns how many were created."""
    if not domain.wants((), event.type):
        return 0
    endpoints = [e for e in await repository.subscribed_endpoints(session, event.type)
                 if domain.wants(e.event_types, event.type)]
    if not endpoints:
        return 0
    due = now or datetime.now(UTC)
    payload = domain.body_of(event.type, event.occurred_at, event.data)
    created = await repository.insert_deliveries(session, [
        {"endpoint_id": e.id, "event_id": event.id, "event_type": event.type, "payload": payload,
         "next_attempt_at": due} for e in endpoints])
    return len(created)


# --------------------------------------------------------------------------- one attempt


@dataclass(frozen=True)
class Prepared:
    """Everything one HTTP attempt needs, taken out of the database (so the request runs
    without a transaction open)."""

    tenant_id: uuid.UUID
    delivery_id: uuid.UUID
    url: str
    body: bytes
    headers: dict[str, str]


def prepare(delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: datetime,
            timestamp: int | None = None) -> Prepared:
    """Body and signed headers. ``webhook-timestamp`` is the real send time (receivers reject
    stale ones), ``now`` decides which secrets sign (rotation overlap)."""
    body = orjson.dumps(delivery.payload)
    ts = int(time.time()) if timestamp is None else timestamp
    signing = domain.active_secrets(endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_expires_at, now)
    headers = domain.headers_for(signing, str(delivery.id), ts, body.decode())
    return Prepared(tenant_id=delivery.tenant_id, delivery_id=delivery.id, url=endpoint.url, body=body, headers=headers)


async def send(prepared: Prepared, *, production_mode: bool | None = None,
               resolve: transport.Resolver = transport.system_resolve) -> transport.Outcome:
    prod = production() if production_mode is None else production_mode
    return await transport.post(prepared.url, prepared.body, prepared.headers, production=prod, resolve=resolve)


async def record_outcome(session: AsyncSession, delivery_id: uuid.UUID, outcome: transport.Outcome, *,
                         now: datetime, manual: bool = False,
                         schedule: Sequence[float] = domain.RETRY_SCHEDULE_SECONDS,
                         failing_period: timedelta = domain.FAILING_PERIOD,
                         rng: random.Random | None = None) -> WebhookDelivery | None:
    """Log the attempt and move the delivery on: succeeded, retry later, or dead. A manual
    attempt (replay) that fails changes no schedule. Returns None if the delivery is gone
    (its endpoint was deleted meanwhile)."""
    delivery = await repository.get_delivery(session, delivery_id, for_update=True)
    if delivery is None:
        return None
    endpoint = await repository.get_endpoint(session, delivery.endpoint_id, for_update=True)
    attempt = delivery.attempts + 1
    await repository.insert_attempt(session, delivery_id=delivery.id, attempt=attempt, started_at=outcome.started_at,
                                    duration_ms=outcome.duration_ms, status_code=outcome.status_code,
                                    response_snippet=outcome.snippet, error=outcome.error, manual=manual)
    delivery.attempts = attempt
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    if outcome.succeeded:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "succeeded", now, None
        if endpoint is not None:
            endpoint.failing_since = None
    else:
        if not manual:
            delay = domain.retry_delay(attempt, schedule, rng=rng)
            if delay is None:
                delivery.status, delivery.next_attempt_at = "dead", None
            else:
                delivery.status = "failed"
                paused = endpoint is None or not endpoint.enabled
                delivery.next_attempt_at = None if paused else now + timedelta(seconds=delay)
        elif delivery.status == "pending":
            delivery.status = "failed"
        if endpoint is not None:
            if endpoint.failing_since is None:
                endpoint.failing_since = now
            if endpoint.enabled and domain.should_disable(endpoint.failing_since, now, failing_period):
                await session.flush()
                await disable_failing(session, endpoint, now)
    await session.flush()
    return delivery


async def disable_failing(session: AsyncSession, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Give up on an endpoint that failed continuously for the failing period: disable it,
    pause its deliveries, and publish ``webhook_endpoint.disabled`` — the notifications module
    reacts to it by emailing the shop's owners (cross-module reactions go through events)."""
    since = endpoint.failing_since or now
    reason = f"every delivery attempt failed since {since.isoformat(timespec='seconds')}"
    endpoint.enabled, endpoint.disabled_reason = False, reason
    await session.flush()
    await repository.pause_deliveries(session, endpoint.id)
    await audit.record(session, action="webhook_endpoint.disabled", resource_type=AGGREGATE, resource_id=endpoint.id,
                       changes={"enabled": {"from": True, "to": False},
                                "disabled_reason": {"from": None, "to": reason}})
    await publish(session, "webhook_endpoint.disabled", aggregate_type=AGGREGATE, aggregate_id=endpoint.id,
                  data={"endpoint_id": str(endpoint.id), "url": endpoint.url, "reason": reason,
                        "description": endpoint.description, "failing_since": since.isoformat()})
    log.warning("webhook endpoint disabled after failing", extra={"endpoint_id": str(endpoint.id),
                                                                 "tenant_id": str(endpoint.tenant_id)})


async def attempt_now(session: AsyncSession, delivery: WebhookDelivery, endpoint: WebhookEndpoint, *,
                      now: datetime, manual: bool, production_mode: bool | None = None,
                      resolve: transport.Resolver = transport.system_resolve) -> WebhookDelivery:
    """Send one delivery from inside a request (test event, replay) and record the result in
    the same transaction. The delivery row stays locked meanwhile, so the periodic sender skips
    it; the request takes at most the HTTP time limit longer."""
    outcome = await send(prepare(delivery, endpoint, now), production_mode=production_mode, resolve=resolve)
    result = await record_outcome(session, delivery.id, outcome, now=now, manual=manual)
    assert result is not None
    return result


# --------------------------------------------------------------------------- staff actions


async def send_test(session: AsyncSession, endpoint_id: uuid.UUID, actor: Principal | None, *,
                    now: datetime | None = None, production_mode: bool | None = None) -> WebhookDelivery:
    """Send a ``webhook.test`` event to one endpoint now (even a disabled one, to check it before
    enabling it again). A failed test is retried on the schedule like any delivery."""
    now = now or datetime.now(UTC)
    endpoint = await get_endpoint(session, endpoint_id)
    event_id = uuid.uuid4()
    payload = domain.body_of(domain.TEST_EVENT_TYPE, now, {
        "message": "This is a test event from Mercato.", "endpoint_id": str(endpoint.id)})
    [delivery_id] = await repository.insert_deliveries(session, [{
        "endpoint_id": endpoint.id, "event_id": event_id, "event_type": domain.TEST_EVENT_TYPE,
        "payload": payload, "next_attempt_at": None}])
    delivery = await repository.get_delivery(session, delivery_id, for_update=True)
    assert delivery is not None
    await audit.record(session, action="webhook_endpoint.tested", resource_type=AGGREGATE, resource_id=endpoint.id,
                       changes={"delivery_id": {"from": None, "to": str(delivery_id)}}, actor=actor)
    return await attempt_now(session, delivery, endpoint, now=now, manual=False, production_mode=production_mode)


async def replay(session: AsyncSession, delivery_id: uuid.UUID, actor: Principal | None, *,
                 now: datetime | None = None, production_mode: bool | None = None) -> WebhookDelivery:
    """Send any delivery again now, with the same ``webhook-id`` (receivers dedup on it).
    Success marks it succeeded; a failure is logged and changes no schedule."""
    now = now or datetime.now(UTC)
    delivery = await repository.get_delivery(session, delivery_id, for_update=True)
    if delivery is None:
        raise DeliveryNotFound()
    endpoint = await get_endpoint(session, delivery.endpoint_id)
    await audit.record(session, action="webhook_delivery.replayed", resource_type="webhook_delivery",
                       resource_id=delivery.id, changes={"attempt": {"from": None, "to": delivery.attempts + 1}},
                       actor=actor)
    return await attempt_now(session, delivery, endpoint, now=now, manual=True, production_mode=production_mode)


# --------------------------------------------------------------------------- reading


async def list_deliveries(session: AsyncSession, endpoint_id: uuid.UUID, *, status: str | None, limit: int,
                          offset: int, before: tuple[datetime, uuid.UUID] | None) -> list[WebhookDelivery]:
    await get_endpoint(session, endpoint_id)  # 404 for an endpoint that is not this tenant's
    return await repository.list_deliveries(session, endpoint_id, status=status, limit=limit, offset=offset,
                                            before=before)


async def get_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    delivery = await repository.get_delivery(session, delivery_id)
    if delivery is None:
        raise DeliveryNotFound()
    return delivery, await repository.attempts_of(session, delivery_id)
