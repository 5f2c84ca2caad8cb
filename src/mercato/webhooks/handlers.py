"""Reactions to events: every event of a tenant becomes deliveries to that tenant's endpoints.

A plain subscriber on ``*`` in a tenant transaction of the runtime database. Redelivered events
are harmless without a ``processed_events`` mark: a delivery is unique per (endpoint, event), so
a second fan-out inserts nothing — and every event of every shop passes here, so skipping the
mark saves a write per event. Sending happens later, in the periodic sender
(``tasks.send_due``), never in the relay: a slow receiver must not hold up the outbox.
"""

from __future__ import annotations

from mercato.platform import events
from mercato.webhooks import domain, service

CONSUMER = "webhooks.fan_out"


@events.subscribe("*", name=CONSUMER)
async def create_deliveries(event: events.Event) -> None:
    if event.type in domain.INTERNAL_EVENT_TYPES:
        return
    async with events.runtime().tenant_transaction(event.tenant_id) as session:
        await service.fan_out(session, event)
