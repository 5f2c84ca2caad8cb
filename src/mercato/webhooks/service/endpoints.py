"""Endpoint management: create, update, delete, rotate the secret. Audited, with events.

Secrets never reach the audit log, the events or the logs: only the fact of a rotation.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
from mercato.platform.events import publish
from mercato.platform.security import Principal
from mercato.settings import get_settings
from mercato.webhooks import domain, repository, transport
from mercato.webhooks.errors import EndpointNotFound, InvalidWebhookUrl
from mercato.webhooks.models import WebhookEndpoint
from mercato.webhooks.schemas import WebhookEndpointCreate, WebhookEndpointUpdate

AGGREGATE = "webhook_endpoint"


def production() -> bool:
    return get_settings().is_production


def snapshot(e: WebhookEndpoint) -> dict[str, Any]:
    """What may be recorded about an endpoint (no secrets)."""
    return {"url": e.url, "description": e.description, "event_types": list(e.event_types or []),
            "enabled": e.enabled, "disabled_reason": e.disabled_reason}


async def check_url(url: str, *, production_mode: bool | None = None) -> None:
    """The URL rules at configuration time (the sender checks again at every attempt)."""
    prod = production() if production_mode is None else production_mode
    problem = domain.url_problem(url, production=prod)
    if problem:
        raise InvalidWebhookUrl(f"url {problem}", field="url")
    try:
        await transport.vetted_addresses(domain.target_of(url), production=prod)
    except transport.Refused as exc:
        raise InvalidWebhookUrl(str(exc), field="url") from exc


async def _event(session: AsyncSession, type_: str, e: WebhookEndpoint, **data: Any) -> None:
    await publish(session, type_, aggregate_type=AGGREGATE, aggregate_id=e.id,
                  data={"endpoint_id": str(e.id), "url": e.url, **data})


async def get_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, *, for_update: bool = False) -> WebhookEndpoint:
    e = await repository.get_endpoint(session, endpoint_id, for_update=for_update)
    if e is None:
        raise EndpointNotFound()
    return e


async def list_endpoints(session: AsyncSession, *, limit: int, offset: int,
                         after: tuple[datetime, uuid.UUID] | None) -> list[WebhookEndpoint]:
    return await repository.list_endpoints(session, limit=limit, offset=offset, after=after)


async def create_endpoint(session: AsyncSession, data: WebhookEndpointCreate, actor: Principal | None
                          ) -> tuple[WebhookEndpoint, str]:
    """Returns the endpoint and its secret (shown to the caller once, never again)."""
    await check_url(data.url)
    secret = domain.generate_secret()
    e = await repository.insert_endpoint(session, url=data.url, description=data.description,
                                         event_types=sorted(set(data.event_types)), enabled=data.enabled,
                                         secret=secret)
    await audit.record(session, action="webhook_endpoint.created", resource_type=AGGREGATE, resource_id=e.id,
                       changes=audit.diff({}, snapshot(e)), actor=actor)
    await _event(session, "webhook_endpoint.created", e, event_types=list(e.event_types), enabled=e.enabled)
    return e, secret


async def update_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, data: WebhookEndpointUpdate,
                          actor: Principal | None, *, now: datetime | None = None) -> WebhookEndpoint:
    now = now or datetime.now(UTC)
    e = await get_endpoint(session, endpoint_id, for_update=True)
    before = snapshot(e)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("url") is not None and changes["url"] != e.url:
        await check_url(changes["url"])
        e.url = changes["url"]
    if "description" in changes:
        e.description = changes["description"]
    if changes.get("event_types") is not None:
        e.event_types = sorted(set(changes["event_types"]))
    if changes.get("enabled") is not None and changes["enabled"] != e.enabled:
        if changes["enabled"]:
            e.enabled, e.disabled_reason, e.failing_since = True, None, None
            await session.flush()
            await repository.resume_deliveries(session, e.id, now)
        else:
            e.enabled, e.disabled_reason = False, "disabled by staff"
            await session.flush()
            await repository.pause_deliveries(session, e.id)
    await session.flush()
    await session.refresh(e)
    diff = audit.diff(before, snapshot(e))
    if diff:
        await audit.record(session, action="webhook_endpoint.updated", resource_type=AGGREGATE, resource_id=e.id,
                           changes=diff, actor=actor)
        await _event(session, "webhook_endpoint.updated", e, fields=sorted(diff))
    return e


async def delete_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, actor: Principal | None) -> None:
    """Deletes the endpoint with its deliveries and their attempt log."""
    e = await get_endpoint(session, endpoint_id, for_update=True)
    before = snapshot(e)
    await _event(session, "webhook_endpoint.deleted", e)
    await repository.delete_endpoint(session, endpoint_id)
    await audit.record(session, action="webhook_endpoint.deleted", resource_type=AGGREGATE, resource_id=endpoint_id,
                       changes=audit.diff(before, {}), actor=actor)


async def rotate_secret(session: AsyncSession, endpoint_id: uuid.UUID, actor: Principal | None, *,
                        now: datetime | None = None) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing (a second signature) for the overlap window.
    Rotating again within the window drops the oldest secret at once."""
    now = now or datetime.now(UTC)
    e = await get_endpoint(session, endpoint_id, for_update=True)
    secret = domain.generate_secret()
    e.previous_secret, e.previous_secret_expires_at = e.secret, now + domain.SECRET_OVERLAP
    e.secret = secret
    await session.flush()
    await session.refresh(e)
    await audit.record(session, action="webhook_endpoint.secret_rotated", resource_type=AGGREGATE, resource_id=e.id,
                       changes={"secret": {"from": "[redacted]", "to": "[redacted]"}}, actor=actor)
    await _event(session, "webhook_endpoint.secret_rotated", e,
                 previous_secret_expires_at=e.previous_secret_expires_at.isoformat())
    return e, secret
