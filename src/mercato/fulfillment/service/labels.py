"""Labels: asking the carrier for a label (tracking number, URL, document), retrying a failing
carrier with exponential backoff and jitter, giving up after the last attempt (the shipment
fails and ``fulfillment.failed`` alerts staff), and serving the label document.

The carrier call happens inside the request's transaction with the shipment row locked (so two
clicks cannot buy two labels), bounded by the carrier timeout. While the carrier's circuit is
open the request fails fast with 503 ``carrier_unavailable`` and nothing is written.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.fulfillment import carriers, repository
from mercato.fulfillment.config import get_fulfillment_settings
from mercato.fulfillment.domain import ShipmentStatus, check_transition, label_attempt_outcome
from mercato.fulfillment.errors import CarrierUnavailable, ShipmentLabelMissing, UnknownCarrier
from mercato.fulfillment.models import Shipment
from mercato.fulfillment.schemas import LabelCreate
from mercato.fulfillment.service.common import history, load, move, now, publish, shipped_once
from mercato.platform import events
from mercato.platform.errors import ValidationFailed
from mercato.platform.security import Principal

log = logging.getLogger("mercato.fulfillment")

#: Outcomes of one label attempt.
CREATED, RETRY, FAILED, POSTPONED = "created", "retry", "failed", "postponed"


async def _request(session: AsyncSession, shipment: Shipment, tracking_number: str | None,
                   tracking_url: str | None) -> carriers.LabelRequest:
    items = await repository.items_of(session, [shipment.id])
    return carriers.LabelRequest(
        shipment_id=shipment.id, order_number=shipment.order_number, parcel=f"{shipment.order_number}-{shipment.sequence}",
        service=shipment.service, ship_from=shipment.ship_from or {}, ship_to=shipment.ship_to or {},
        items=[(i.sku, i.quantity) for i in items], tracking_number=tracking_number or shipment.tracking_number,
        tracking_url=tracking_url or shipment.tracking_url)


async def _failed_attempt(session: AsyncSession, shipment: Shipment, error: str, *, actor: Principal | None,
                          at: datetime) -> str:
    cfg = get_fulfillment_settings()
    shipment.label_attempts += 1
    shipment.label_last_error = error[:2000]
    attempts = shipment.label_attempts
    if label_attempt_outcome(attempts, cfg.fulfillment_label_max_attempts) == "retry":
        delay = events.retry_delay(attempts, base=cfg.fulfillment_retry_base_seconds,
                                   cap=cfg.fulfillment_retry_max_seconds)
        shipment.label_next_attempt_at = at + timedelta(seconds=delay)
        await session.flush()
        await history(session, shipment, "label_attempt", source="system", actor=actor, message=error[:2000],
                      data={"attempt": attempts, "outcome": RETRY, "retry_in_seconds": round(delay, 3)})
        log.warning("carrier label failed; retrying", extra={"shipment_id": str(shipment.id), "attempt": attempts,
                                                             "carrier": shipment.carrier, "delay": delay})
        return RETRY
    shipment.label_next_attempt_at = None
    shipment.failure_reason = f"label not created after {attempts} attempt(s): {error}"[:500]
    await history(session, shipment, "label_attempt", source="system", actor=actor, message=error[:2000],
                  data={"attempt": attempts, "outcome": FAILED})
    await move(session, shipment, ShipmentStatus.FAILED, source="system", actor=actor, reason=shipment.failure_reason)
    await publish(session, "fulfillment.failed", shipment, step="label", attempts=attempts, error=error[:500],
                  customer_id=None)
    log.error("carrier label failed for good", extra={"shipment_id": str(shipment.id), "attempts": attempts,
                                                      "carrier": shipment.carrier})
    return FAILED


async def attempt_label(session: AsyncSession, shipment: Shipment, *, actor: Principal | None = None,
                        tracking_number: str | None = None, tracking_url: str | None = None,
                        at: datetime | None = None) -> str:
    """One label attempt on a locked, packed shipment. Returns ``created``, ``retry`` or ``failed``;
    raises :class:`CarrierUnavailable` (circuit open: nothing was tried, nothing written)."""
    at = at or now()
    try:
        carrier = carriers.get(shipment.carrier)
    except UnknownCarrier as exc:  # the integration was removed since the parcel was created
        return await _failed_attempt(session, shipment, exc.detail, actor=actor, at=at)
    request = await _request(session, shipment, tracking_number, tracking_url)
    try:
        label = await carriers.create_label(carrier, request, get_fulfillment_settings())
    except CarrierUnavailable:
        raise
    except (carriers.CarrierError, TimeoutError) as exc:
        return await _failed_attempt(session, shipment, str(exc) or type(exc).__name__, actor=actor, at=at)
    shipment.label_attempts += 1
    shipment.label_next_attempt_at = None
    shipment.label_last_error = None
    shipment.tracking_number = label.tracking_number or shipment.tracking_number
    shipment.tracking_url = label.tracking_url or shipment.tracking_url
    if label.document:
        await repository.save_label(session, shipment.tenant_id, shipment.id, label.media_type, label.document)
    await move(session, shipment, ShipmentStatus.LABEL_CREATED, source="carrier" if label.document else "staff",
               actor=actor, data={"attempt": shipment.label_attempts})
    return CREATED


async def create_label(session: AsyncSession, shipment_id: uuid.UUID, data: LabelCreate | None = None, *,
                       actor: Principal | None = None) -> tuple[Shipment, str]:
    """Staff ask for the label of a packed parcel (also to retry now, ahead of the backoff)."""
    shipment = await load(session, shipment_id, for_update=True)
    check_transition(shipment.status, ShipmentStatus.LABEL_CREATED, shipped=shipped_once(shipment))
    data = data or LabelCreate()
    if (data.tracking_number or data.tracking_url) and shipment.carrier != "manual":
        raise ValidationFailed("tracking numbers come from the carrier; only the manual carrier takes yours",
                               field="tracking_number")
    outcome = await attempt_label(session, shipment, actor=actor, tracking_number=data.tracking_number,
                                  tracking_url=data.tracking_url)
    return shipment, outcome


async def retry_due_label(session: AsyncSession, shipment_id: uuid.UUID, *, at: datetime | None = None) -> str | None:
    """The retry job's step for one shipment (in its tenant's transaction). None: not due any more
    (done, cancelled, or being handled by someone else right now)."""
    at = at or now()
    shipment = await repository.get(session, shipment_id, for_update=True, skip_locked=True)
    if (shipment is None or shipment.status != ShipmentStatus.PACKED or shipment.label_next_attempt_at is None
            or shipment.label_next_attempt_at > at):
        return None
    try:
        return await attempt_label(session, shipment, at=at)
    except CarrierUnavailable as exc:  # the circuit is open: no attempt spent, look again when it may close
        shipment.label_next_attempt_at = at + timedelta(seconds=int(exc.extra.get("retry_after", 5)))
        await session.flush()
        return POSTPONED


async def label_document(session: AsyncSession, shipment_id: uuid.UUID) -> tuple[str, bytes, Shipment]:
    shipment = await load(session, shipment_id)
    label = await repository.label_of(session, shipment_id)
    if label is None:
        raise ShipmentLabelMissing("this shipment has no label document (manual carrier, or no label yet)")
    return label.media_type, label.content, shipment
