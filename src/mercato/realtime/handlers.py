"""The fan-out: every relayed event that some socket may care about goes to the hubs.

A plain ``subscribe("*")``, not an idempotent ``handler``: fan-out is best effort and per
process (a socket that is not connected misses the message whatever we record), and it must
never fail — a raise would make the relay retry the event for every other subscriber too.
A redelivered event may therefore reach a socket twice; clients dedup on ``event.id``.
"""

from __future__ import annotations

import logging

from mercato.platform.events import Event, subscribe
from mercato.realtime.domain import delivery_for_event
from mercato.realtime.hub import dispatch
from mercato.settings import get_settings

log = logging.getLogger("mercato.realtime")

CONSUMER = "realtime.fanout"


@subscribe("*", name=CONSUMER)
async def fan_out(event: Event) -> None:
    try:
        delivery = delivery_for_event(event.envelope())
        if delivery is None:
            return
        settings = get_settings()
        await dispatch(delivery, redis_url=settings.redis_url.get_secret_value() if settings.redis_url else None)
    except Exception as exc:  # best effort: log, never fail the relay
        log.warning("realtime fan-out failed", exc_info=exc,
                    extra={"event_id": str(event.id), "event_type": event.type})
