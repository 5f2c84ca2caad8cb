"""Recording and sending one message: the ``notification_log`` row is the unit of delivery.

:func:`dispatch` records a message (its id derived from the triggering event or a business
key, so a redelivered event finds its own row) and sends it at once; the outcome lands on
the row in the caller's transaction. A temporary failure keeps the row ``queued`` with
``next_attempt_at`` (backoff with jitter); :func:`retry` — run by the periodic job — tries
again; after ``MAX_ATTEMPTS`` the row is ``failed``. A permanent refusal is ``bounced``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.notifications import channels, domain, rendering, repository
from mercato.notifications.domain import Status
from mercato.notifications.models import NotificationLog
from mercato.notifications.rendering import TemplateSource
from mercato.notifications.sinks import DeliveryRefused
from mercato.platform.db import current_tenant
from mercato.settings import get_settings

log = logging.getLogger("mercato.notifications")


def now() -> datetime:
    return datetime.now(UTC)


async def record(session: AsyncSession, *, channel: str, template: str, recipient: str, locale: str | None,
                 context: dict[str, Any], user_id: uuid.UUID | None = None, event_id: uuid.UUID | None = None,
                 key: str | None = None, created_at: datetime | None = None) -> tuple[uuid.UUID, bool]:
    """Insert the ``queued`` row of a message unless it exists; returns (id, inserted)."""
    tenant_id = current_tenant(session)
    if tenant_id is None:
        raise RuntimeError("notifications need a tenant-scoped transaction")
    if key is None and event_id is None:
        raise ValueError("a message needs the event that caused it or a business key")
    message_id = domain.message_id(tenant_id, source=key or str(event_id), channel=channel, template=template,
                                   recipient=recipient)
    values: dict[str, Any] = {
        "id": message_id, "tenant_id": tenant_id, "channel": channel, "template": template,
        "locale": domain.normalize_locale(locale) or domain.DEFAULT_LOCALE, "recipient": recipient.strip(),
        "user_id": user_id, "event_id": event_id, "context": _jsonable(context), "status": Status.QUEUED.value,
    }
    if created_at is not None:
        values["created_at"] = created_at
    inserted = await repository.insert_log_if_absent(session, values)
    return message_id, inserted


async def dispatch(session: AsyncSession, *, settings: Any = None, **message: Any) -> NotificationLog | None:
    """Record a message (see :func:`record`) and, if it has not been tried yet, send it now.

    Returns the row; ``None`` if it does not exist (it cannot: the insert is in this transaction)."""
    message_id, _ = await record(session, **message)
    row = await repository.get_log(session, message_id, for_update=True)
    if row is not None and row.status == Status.QUEUED and row.attempts == 0:
        await attempt(session, row, settings=settings)
    return row


async def _overrides(session: AsyncSession, row: NotificationLog) -> list[TemplateSource]:
    found = await repository.find_overrides(session, key=row.template, channel=row.channel,
                                            locales=domain.locale_candidates(row.locale))
    return [TemplateSource(key=t.key, locale=t.locale, channel=t.channel, subject=t.subject, text=t.text, html=t.html)
            for t in found]


def _finish(row: NotificationLog, status: Status, reason: str | None = None) -> None:
    domain.check_transition(row.status, status.value)
    row.status = status.value
    row.failure_reason = reason[:2000] if reason else None
    row.next_attempt_at = None
    if status != Status.QUEUED:
        row.context = {}  # may hold one-time tokens: keep them no longer than needed


async def attempt(session: AsyncSession, row: NotificationLog, *, settings: Any = None,
                  at: datetime | None = None) -> str:
    """Render and send ``row`` once; records the outcome on the row (flushes). Returns the new status.

    ``at`` is the time the attempt counts from (the retry job's clock; now by default)."""
    settings = settings or get_settings()
    try:
        rendered = rendering.render(row.template, dict(row.context or {}), row.locale, channel=row.channel,
                                    overrides=await _overrides(session, row))
    except Exception as exc:  # a broken shipped template: nothing a retry would fix
        log.exception("notification %s could not be rendered", row.id)
        row.attempts += 1
        _finish(row, Status.FAILED, f"render: {type(exc).__name__}: {exc}")
        await session.flush()
        return row.status
    row.subject = rendered.subject
    row.locale = rendered.locale
    row.attempts += 1
    outgoing = channels.OutgoingMessage(id=row.id, tenant_id=row.tenant_id, channel=row.channel,
                                        recipient=row.recipient, rendered=rendered, created_at=row.created_at,
                                        event_id=row.event_id)
    try:
        await channels.get_channel(row.channel).send(outgoing, settings)
    except DeliveryRefused as exc:
        log.warning("notification %s to %s bounced: %s", row.id, domain.mask_recipient(row.recipient, row.channel),
                    exc)
        _finish(row, Status.BOUNCED, str(exc))
    except Exception as exc:  # noqa: BLE001 - any transport failure is retried with backoff
        reason = f"{type(exc).__name__}: {exc}"
        if domain.gives_up(row.attempts):
            log.warning("notification %s failed for good after %s attempts: %s", row.id, row.attempts, reason)
            _finish(row, Status.FAILED, reason)
        else:
            _finish(row, Status.QUEUED, reason)
            row.next_attempt_at = (at or now()) + timedelta(seconds=domain.retry_delay(row.attempts))
            log.info("notification %s attempt %s failed, retrying at %s: %s", row.id, row.attempts,
                     row.next_attempt_at.isoformat(), reason)
    else:
        _finish(row, Status.SENT)
        row.sent_at = now()
    await session.flush()
    return row.status


async def retry(session: AsyncSession, notification_id: uuid.UUID, *, settings: Any = None,
                at: datetime | None = None) -> str | None:
    """Try a due message again (row locked, SKIP LOCKED: concurrent workers never double-send)."""
    row = await repository.get_log(session, notification_id, for_update=True, skip_locked=True)
    if row is None or row.status != Status.QUEUED or row.next_attempt_at is None \
            or row.next_attempt_at > (at or now()):
        return None
    return await attempt(session, row, settings=settings, at=at)


def _jsonable(value: Any) -> Any:
    """Context values as JSON (ids and times as strings), for the jsonb column."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
