"""Carriers: the interface a shipping carrier implements, the built-in ``manual`` and
``simulated`` carriers, the registry, and the circuit breaker around every carrier call.

A carrier creates a label for a parcel (tracking number, tracking URL, optionally a document)
and may report tracking updates (``POST /shipments/{id}/tracking-events``). A carrier raises
:class:`CarrierError` when *it* is failing (network, timeout, 5xx): that counts against its
breaker, and the label is retried with backoff by the fulfillment service.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mercato.fulfillment import labels
from mercato.fulfillment.config import FulfillmentSettings
from mercato.fulfillment.errors import CarrierUnavailable, UnknownCarrier
from mercato.platform.breaker import CircuitBreaker, CircuitOpen, GatewayFailure, breaker_for


class CarrierError(GatewayFailure):
    """The carrier failed (unreachable, timeout, 5xx): retry later."""


@dataclass(frozen=True)
class LabelRequest:
    shipment_id: uuid.UUID
    order_number: str
    parcel: str
    service: str
    ship_from: Mapping[str, Any]
    ship_to: Mapping[str, Any]
    items: Sequence[tuple[str, int]]
    #: Given by staff (the manual carrier: the parcel went with a carrier we do not integrate).
    tracking_number: str | None = None
    tracking_url: str | None = None


@dataclass(frozen=True)
class Label:
    tracking_number: str | None
    tracking_url: str | None
    document: bytes | None = None
    media_type: str = labels.MEDIA_TYPE


class Carrier(Protocol):
    name: str
    services: tuple[str, ...]

    async def create_label(self, request: LabelRequest) -> Label: ...


@dataclass
class ManualCarrier:
    """Parcels handed to a carrier outside Mercato: staff type the tracking number (optional); no document."""

    name: str = "manual"
    services: tuple[str, ...] = ("standard", "express", "pickup", "freight")

    async def create_label(self, request: LabelRequest) -> Label:
        return Label(tracking_number=request.tracking_number, tracking_url=request.tracking_url)


@dataclass
class SimulatedCarrier:
    """A carrier that behaves like a real one without a network: it issues tracking numbers,
    tracking URLs and a real PDF label; tracking updates are pushed to the tracking-events route."""

    name: str = "simulated"
    services: tuple[str, ...] = ("ground", "express", "overnight")
    tracking_base_url: str = "https://track.simulated-carrier.test/"
    issued: int = field(default=0)

    def tracking_number(self, shipment_id: uuid.UUID) -> str:
        return f"SIM{shipment_id.hex[:14].upper()}"

    async def create_label(self, request: LabelRequest) -> Label:
        number = self.tracking_number(request.shipment_id)
        url = f"{self.tracking_base_url}{number}"
        document = labels.render(labels.LabelContent(
            carrier=self.name, service=request.service, tracking_number=number, order_number=request.order_number,
            parcel=request.parcel, ship_from=request.ship_from, ship_to=request.ship_to, items=request.items,
            tracking_url=url))
        self.issued += 1
        return Label(tracking_number=number, tracking_url=url, document=document)


_carriers: dict[str, Carrier] = {}
_lock = threading.Lock()


def register(carrier: Carrier) -> None:
    """Make a carrier available by its ``name`` (an integration, or a test's fake third party)."""
    with _lock:
        _carriers[carrier.name] = carrier


def unregister(name: str) -> None:
    with _lock:
        _carriers.pop(name, None)


def names() -> list[str]:
    return sorted(_carriers)


def get(name: str, service: str | None = None) -> Carrier:
    carrier = _carriers.get(name)
    if carrier is None:
        raise UnknownCarrier(f"unknown carrier {name!r}; available: {', '.join(names())}", field="carrier",
                             available=names())
    if service is not None and service not in carrier.services:
        raise UnknownCarrier(f"carrier {name!r} offers no service {service!r}; available: "
                             f"{', '.join(carrier.services)}", field="service", available=list(carrier.services))
    return carrier


def breaker(name: str, cfg: FulfillmentSettings) -> CircuitBreaker:
    return breaker_for(f"carrier:{name}", failure_threshold=cfg.carrier_breaker_failure_threshold,
                       reset_timeout=cfg.carrier_breaker_reset_seconds)


async def create_label(carrier: Carrier, request: LabelRequest, cfg: FulfillmentSettings) -> Label:
    """One label call under the carrier's breaker and timeout. Raises :class:`CarrierUnavailable`
    (503, fast) while the circuit is open; ``CarrierError`` / ``TimeoutError`` when the call failed."""
    b = breaker(carrier.name, cfg)
    try:
        return await b.call(lambda: carrier.create_label(request), time_limit=cfg.carrier_timeout_seconds)
    except CircuitOpen as exc:
        raise CarrierUnavailable(f"carrier {carrier.name!r} is failing; its circuit is open",
                                 retry_after=math.ceil(exc.retry_after), carrier=carrier.name) from None


register(ManualCarrier())
register(SimulatedCarrier())
