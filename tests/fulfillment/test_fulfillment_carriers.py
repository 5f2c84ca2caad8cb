"""Carriers: the manual carrier, a failing carrier retried with backoff and jitter, one that never
recovers (the shipment fails, staff are told), and the circuit breaker failing fast.

``FlakyCarrier`` below is a fake third party: a carrier integration registered by the test whose
API fails a set number of times (as a carrier's 5xx would) before it answers."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from fulfillment_helpers import API, create, events, label, ok, packed, paid_order, ship, shop, track
from sqlalchemy import text

import mercato.fulfillment as fulfillment
from mercato.platform.breaker import BreakerState, breaker_for
from mercato.platform.events import Relay


@dataclass
class FlakyCarrier:
    """A fake third-party carrier: fails ``failures`` times (None: always), then issues labels."""

    name: str
    failures: int | None = 2
    services: tuple[str, ...] = ("parcel",)
    calls: list[float] = field(default_factory=list)

    async def create_label(self, request: fulfillment.LabelRequest) -> fulfillment.Label:
        self.calls.append(time.monotonic())
        if self.failures is None or len(self.calls) <= self.failures:
            raise fulfillment.CarrierError("503 Service Unavailable from carrier API")
        return fulfillment.Label(tracking_number=f"FLK{len(self.calls)}", tracking_url=None, document=None)


@pytest.fixture
def flaky():  # type: ignore[no-untyped-def]
    carriers: list[str] = []

    def make(failures: int | None) -> FlakyCarrier:
        c = FlakyCarrier(name=f"flaky-{uuid.uuid4().hex[:8]}", failures=failures)
        fulfillment.register_carrier(c)
        carriers.append(c.name)
        return c

    yield make
    for name in carriers:
        fulfillment.unregister_carrier(name)


async def _packed_parcel(client, tenant, carrier: str, **kw):  # type: ignore[no-untyped-def]
    s = await shop(client, tenant)
    order = await paid_order(client, tenant, s, {"Red": 1})
    parcel = await create(client, tenant, order["id"], {"carrier": carrier, **kw})
    await packed(client, tenant, parcel["id"])
    return s, order, parcel


async def test_manual_carrier_takes_staff_tracking_and_has_no_document(client, tenant, worker_db) -> None:  # type: ignore[no-untyped-def]
    _, order, parcel = await _packed_parcel(client, tenant, "manual", service="freight")
    done = await label(client, tenant, parcel["id"], body={"tracking_number": "1Z999AA10123456784",
                                                            "tracking_url": "https://ups.test/1Z999AA10123456784"})
    assert done["status"] == "label_created" and done["tracking_number"] == "1Z999AA10123456784"
    assert done["has_label"] is False and done["label_url"] is None
    r = await client.get(f"{API}/shipments/{parcel['id']}/label", headers=tenant.admin_headers)
    assert r.status_code == 404 and r.json()["code"] == "shipment_label_not_found"
    await ship(client, tenant, parcel["id"])
    await track(client, tenant, parcel["id"], "delivered")
    o = await ok(await client.get(f"{API}/orders/{order['id']}", headers=tenant.admin_headers))
    assert o["status"] == "delivered"
    shipped = [e for e in await events(worker_db, tenant.id, ("order.shipped",)) if e.data["order_id"] == order["id"]]
    assert shipped[0].data["tracking_number"] == "1Z999AA10123456784"
    assert shipped[0].data["tracking_url"] == "https://ups.test/1Z999AA10123456784"
    # a carrier with an API issues its own numbers
    _, _, sim = await _packed_parcel(client, tenant, "simulated")
    r = await client.post(f"{API}/shipments/{sim['id']}/label", headers=tenant.admin_headers,
                          json={"tracking_number": "MINE"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tracking_number"


async def test_failing_carrier_is_retried_with_backoff_then_succeeds(client, tenant, db, worker_db,  # type: ignore[no-untyped-def]
                                                                     flaky, fulfillment_env) -> None:
    cfg = fulfillment_env(fulfillment_retry_base_seconds=60, fulfillment_label_max_attempts=5)
    carrier = flaky(2)
    _, _, parcel = await _packed_parcel(client, tenant, carrier.name)

    first = await label(client, tenant, parcel["id"], status=202)  # attempt 1 fails: retry scheduled
    assert first["status"] == "packed" and first["label_attempts"] == 1
    assert "503" in first["label_last_error"]
    due1 = datetime.fromisoformat(first["label_next_attempt_at"])
    delay1 = (due1 - datetime.now(UTC)).total_seconds()
    assert cfg.fulfillment_retry_base_seconds / 2 - 5 <= delay1 <= cfg.fulfillment_retry_base_seconds + 1

    # not due yet: the job leaves it alone (the job sees every shop's due retries: assert on ours)
    await fulfillment.retry_labels(db, worker_db, now=due1 - timedelta(seconds=1))
    assert len(carrier.calls) == 1
    # due: attempt 2 fails, the next delay doubles (exponential, jittered within [c/2, c])
    out = await fulfillment.retry_labels(db, worker_db, now=due1 + timedelta(seconds=1))
    assert out.get("retry", 0) >= 1 and len(carrier.calls) == 2
    second = await ok(await client.get(f"{API}/shipments/{parcel['id']}", headers=tenant.admin_headers))
    due2 = datetime.fromisoformat(second["label_next_attempt_at"])
    delay2 = (due2 - (due1 + timedelta(seconds=1))).total_seconds()
    assert second["label_attempts"] == 2 and 60 - 0.01 <= delay2 <= 120 + 0.01
    # attempt 3 succeeds
    out = await fulfillment.retry_labels(db, worker_db, now=due2 + timedelta(seconds=1))
    assert out.get("created", 0) >= 1
    done = await ok(await client.get(f"{API}/shipments/{parcel['id']}", headers=tenant.admin_headers))
    assert done["status"] == "label_created" and done["tracking_number"] == "FLK3"
    assert done["label_attempts"] == 3 and done["label_next_attempt_at"] is None and done["label_last_error"] is None
    attempts = [e["data"] for e in done["history"] if e["kind"] == "label_attempt"]
    assert [a["attempt"] for a in attempts] == [1, 2] and all(a["outcome"] == "retry" for a in attempts)
    assert len(carrier.calls) == 3


async def test_carrier_failing_for_good_fails_the_shipment_and_tells_staff(client, tenant, db, worker_db,  # type: ignore[no-untyped-def]
                                                                          flaky, fulfillment_env) -> None:
    fulfillment_env(fulfillment_retry_base_seconds=1, fulfillment_label_max_attempts=3,
                    carrier_breaker_failure_threshold=10)
    carrier = flaky(None)
    _, order, parcel = await _packed_parcel(client, tenant, carrier.name)
    await label(client, tenant, parcel["id"], status=202)
    at = datetime.now(UTC)
    for _ in range(2):
        at += timedelta(hours=1)
        await fulfillment.retry_labels(db, worker_db, now=at)
    failed = await ok(await client.get(f"{API}/shipments/{parcel['id']}", headers=tenant.admin_headers))
    assert failed["status"] == "failed" and failed["label_attempts"] == 3 and failed["failed_at"]
    assert failed["allowed_transitions"] == [] and "after 3 attempt(s)" in failed["failure_reason"]
    assert len(carrier.calls) == 3
    # the units are free again: a new parcel with another carrier may take them
    alloc = await ok(await client.get(f"{API}/orders/{order['id']}/fulfillment", headers=tenant.admin_headers))
    assert alloc["lines"][0]["unallocated"] == 1
    await create(client, tenant, order["id"], {"carrier": "simulated"})
    # fulfillment.failed in the outbox, and a message to the owner
    [alert] = [e for e in await events(worker_db, tenant.id, ("fulfillment.",)) if e.data["shipment_id"] == parcel["id"]]
    assert alert.type == "fulfillment.failed" and alert.data["attempts"] == 3 and alert.data["step"] == "label"
    await Relay(worker_db, db).drain()
    async with db.tenant_transaction(tenant.id) as s:
        rows = (await s.execute(text("SELECT recipient, template, subject FROM notification_log "
                                     "WHERE template = 'fulfillment_failed'"))).all()
    assert [(r.recipient, r.template) for r in rows] == [(tenant.owner_email, "fulfillment_failed")]
    assert order["number"] in rows[0].subject


async def test_open_circuit_fails_fast_with_503(client, tenant, db, worker_db, flaky, fulfillment_env) -> None:  # type: ignore[no-untyped-def]
    cfg = fulfillment_env(carrier_breaker_failure_threshold=2, carrier_breaker_reset_seconds=600)
    carrier = flaky(None)
    _, _, one = await _packed_parcel(client, tenant, carrier.name)
    _, _, two = await _packed_parcel(client, tenant, carrier.name)
    await label(client, tenant, one["id"], status=202)
    await label(client, tenant, two["id"], status=202)
    b = breaker_for(f"carrier:{carrier.name}", failure_threshold=cfg.carrier_breaker_failure_threshold,
                    reset_timeout=cfg.carrier_breaker_reset_seconds)
    assert b.state is BreakerState.OPEN
    calls = len(carrier.calls)
    started = time.monotonic()
    r = await client.post(f"{API}/shipments/{one['id']}/label", headers=tenant.admin_headers)
    assert time.monotonic() - started < 5
    assert r.status_code == 503 and r.json()["code"] == "carrier_unavailable"
    assert r.headers["content-type"].startswith("application/problem+json") and int(r.headers["Retry-After"]) >= 1
    assert len(carrier.calls) == calls  # the carrier was not called
    after = await ok(await client.get(f"{API}/shipments/{one['id']}", headers=tenant.admin_headers))
    assert after["label_attempts"] == 1  # nothing spent
    # the retry job does not spend attempts while the circuit is open either: it postpones
    due = datetime.fromisoformat(after["label_next_attempt_at"]) + timedelta(seconds=1)
    out = await fulfillment.retry_labels(db, worker_db, now=due)
    assert out.get("postponed", 0) >= 1 and len(carrier.calls) == calls
    later = await ok(await client.get(f"{API}/shipments/{one['id']}", headers=tenant.admin_headers))
    assert later["label_attempts"] == 1 and datetime.fromisoformat(later["label_next_attempt_at"]) > due
    # other carriers have their own circuit
    assert breaker_for("carrier:simulated", failure_threshold=2, reset_timeout=600).state is BreakerState.CLOSED
    for parcel in (one, two):  # leave no due retries behind for other tests' job runs
        await ok(await client.post(f"{API}/shipments/{parcel['id']}/transitions", headers=tenant.admin_headers,
                                   json={"to": "cancelled"}))
