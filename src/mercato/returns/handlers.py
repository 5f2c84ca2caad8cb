"""Reactions to other modules' events (run by the outbox relay; the platform's ``handler``
dedups on the event id, and the use case is itself idempotent).

* ``refund.failed`` → the return refund's payment part is failed, the return's refunded figures
  are lowered (staff can refund again) and ``return.refund_failed`` is published. A refund that
  is not a return's (a goodwill refund, another module's) is ignored.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.payments as payments
from mercato.platform.events import Event, handler
from mercato.returns.service.refunds import refund_failed


@handler(payments.events.REFUND_FAILED, name="returns.refund_failed")
async def on_refund_failed(session: AsyncSession, event: Event) -> None:
    try:
        refund_id = uuid.UUID(str(event.data.get("refund_id")))
    except ValueError:
        return
    code = event.data.get("failure_code")
    await refund_failed(session, refund_id, failure_code=str(code)[:100] if code else None)
