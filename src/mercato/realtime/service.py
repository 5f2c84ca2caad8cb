"""Use cases of the real-time module: the operator broadcast."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

import mercato.audit as audit
import mercato.tenancy as tenancy
from mercato.platform.db import set_tenant
from mercato.platform.security import Principal
from mercato.realtime.domain import broadcast_delivery
from mercato.realtime.errors import RealtimeUnavailable
from mercato.realtime.hub import Hub
from mercato.realtime.schemas import BroadcastAccepted, BroadcastCreate


async def broadcast(session: AsyncSession, hub: Hub | None, data: BroadcastCreate,
                    actor: Principal) -> BroadcastAccepted:
    """Send ``data.message`` to every open socket of the shop, and audit it in the shop's log.

    The message is published before the transaction commits, so a Redis failure is a 503
    and leaves no audit row (the opposite order could report a broadcast nobody received).
    """
    tenant = await tenancy.get_tenant(session, data.tenant_id)  # 404 tenant_not_found
    await set_tenant(session, tenant.id)
    broadcast_id = uuid.uuid4()
    sent_at = datetime.now(UTC)
    await audit.record(session, action="realtime.broadcast", resource_type="tenant", resource_id=tenant.id,
                       actor=actor, changes={"message": {"from": None, "to": data.message},
                                             "broadcast_id": {"from": None, "to": str(broadcast_id)}})
    if hub is None or not hub.started:
        raise RealtimeUnavailable("the real-time hub is not running in this process")
    try:
        await hub.publish(broadcast_delivery(tenant.id, data.message, broadcast_id=broadcast_id,
                                             sent_at=sent_at.isoformat()))
    except Exception as exc:
        raise RealtimeUnavailable(f"could not publish: {type(exc).__name__}") from exc
    return BroadcastAccepted(id=broadcast_id, tenant_id=tenant.id, sent_at=sent_at, fan_out=hub.mode)
