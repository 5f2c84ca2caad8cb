"""The abandonment job: idle checkouts become ``abandoned``, give their stock back, publish
``checkout.abandoned`` and are counted on /metrics. Driven directly with a clock (no sleeping)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from checkout_helpers import API, DECLINED_CARD, complete, ready_checkout
from commerce_helpers import make_product, outbox
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from mercato.checkout import abandon_idle, domain
from mercato.checkout.metrics import abandoned_count
from mercato.checkout.tasks import abandon_after
from mercato.platform.worker import periodic_jobs

HOUR = timedelta(hours=1)


async def _available(db, tenant_id, variant_id) -> int:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return int((await s.execute(text("SELECT sum(on_hand - reserved) FROM inventory_levels WHERE variant_id = :v"),
                                    {"v": variant_id})).scalar_one())


async def _status(db, tenant_id, checkout_id) -> str:  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return str((await s.execute(text("SELECT status FROM checkouts WHERE id = :c"), {"c": checkout_id})).scalar_one())


async def test_idle_checkout_is_abandoned_and_its_stock_released(client, db, worker_db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    idle = await ready_checkout(client, tenant, [(p["variant_id"], 2)], payment_method="test")
    assert await _available(db, tenant.id, p["variant_id"]) == 3
    before = abandoned_count()
    later = datetime.now(UTC) + 2 * HOUR

    # not idle long enough yet: nothing happens
    assert await abandon_idle(db, worker_db, now=datetime.now(UTC) + HOUR / 2, idle_for=HOUR) == 0
    assert await _status(db, tenant.id, idle["id"]) == "payment_pending"

    abandoned = await abandon_idle(db, worker_db, now=later, idle_for=HOUR)  # other tests' idle checkouts too
    assert abandoned >= 1
    assert await _status(db, tenant.id, idle["id"]) == "abandoned"
    assert await _available(db, tenant.id, p["variant_id"]) == 5  # the hold is gone
    events = [e for e in await outbox(worker_db, tenant.id, "checkout.abandoned") if e["aggregate_id"] == idle["id"]]
    assert len(events) == 1
    data = events[0]["data"]
    assert data["status"] == "abandoned" and data["email"] == "guest@example.com" and data["reservation_id"]
    assert data["cart_id"] == idle["cart_id"] and data["payment_method"] == "test"
    assert abandoned_count() == before + abandoned
    r = await client.get(f"{API}/checkouts/{idle['id']}", headers=idle["headers"])
    assert r.status_code == 200 and r.json()["status"] == "abandoned"
    assert "mercato_carts_abandoned_total" in (await client.get("/metrics")).text

    # running again changes nothing (idempotent)
    assert await abandon_idle(db, worker_db, now=later, idle_for=HOUR) == 0
    assert len(await outbox(worker_db, tenant.id, "checkout.abandoned")) == 1
    # the abandoned checkout cannot be completed; the cart can start a new one
    r = await complete(client, idle)
    assert r.status_code == 409 and r.json()["code"] == "checkout_not_active", r.text
    r = await client.post(f"{API}/checkouts", headers=idle["headers"], json={"cart_id": idle["cart_id"],
                                                                             "email": "guest@example.com"})
    assert r.status_code == 201 and r.json()["id"] != idle["id"], r.text


async def test_active_completed_and_locked_checkouts_are_left_alone(client, db, worker_db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=10)
    done = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    assert (await complete(client, done)).status_code == 200
    busy = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    later = datetime.now(UTC) + 2 * HOUR
    # a request holds the checkout row right now: the job skips it (and looks again next run)
    async with db.tenant_transaction(tenant.id) as s:
        await s.execute(text("SELECT 1 FROM checkouts WHERE id = :c FOR UPDATE"), {"c": busy["id"]})
        await abandon_idle(db, worker_db, now=later, idle_for=HOUR)
        assert await _status(db, tenant.id, busy["id"]) == "payment_pending"
    assert await _status(db, tenant.id, done["id"]) == "completed"
    # the customer comes back: the scan's cutoff no longer matches (expiry slid forward)
    async with db.tenant_transaction(tenant.id) as s:
        await s.execute(text("UPDATE checkouts SET expires_at = :e WHERE id = :c"),
                        {"e": later + domain.CHECKOUT_TTL, "c": busy["id"]})
    assert await abandon_idle(db, worker_db, now=later, idle_for=HOUR) == 0
    assert await _status(db, tenant.id, busy["id"]) == "payment_pending"
    assert await _status(db, tenant.id, done["id"]) == "completed"


async def test_checkout_with_a_declined_order_is_abandoned_but_the_order_keeps_its_stock_rules(  # type: ignore[no-untyped-def]
        client, db, worker_db, tenant) -> None:
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    r = await complete(client, co, card=DECLINED_CARD)
    assert r.status_code == 402
    assert await abandon_idle(db, worker_db, now=datetime.now(UTC) + 2 * HOUR, idle_for=HOUR) >= 1
    assert await _status(db, tenant.id, co["id"]) == "abandoned"
    event = next(e for e in await outbox(worker_db, tenant.id, "checkout.abandoned") if e["aggregate_id"] == co["id"])
    assert event["data"]["order_id"] == r.json()["order_id"] and event["data"]["reservation_id"] is None
    assert await _available(db, tenant.id, p["variant_id"]) == 5


async def test_a_concurrent_complete_and_the_job_never_both_win(client, db, worker_db, tenant) -> None:  # type: ignore[no-untyped-def]
    p = await make_product(db, tenant.id, stock=5)
    co = await ready_checkout(client, tenant, [(p["variant_id"], 1)], payment_method="test")
    later = datetime.now(UTC) + 2 * HOUR
    r, _ = await asyncio.gather(complete(client, co), abandon_idle(db, worker_db, now=later, idle_for=HOUR))
    status = await _status(db, tenant.id, co["id"])
    if r.status_code == 200:
        assert status == "completed"
        assert await _available(db, tenant.id, p["variant_id"]) == 4
    else:
        assert r.status_code == 409 and status == "abandoned", r.text
        assert await _available(db, tenant.id, p["variant_id"]) == 5


def test_the_job_is_registered_with_the_worker(app) -> None:  # type: ignore[no-untyped-def]
    assert "checkout.abandon_idle" in {j.name for j in periodic_jobs()}


@pytest.mark.parametrize(("setting", "expected"), [
    (None, HOUR), ("", HOUR), ("30", timedelta(minutes=30)), ("2.5", timedelta(minutes=2.5)), ("0", HOUR),
    ("-5", HOUR), ("soon", HOUR), ("100000", domain.CHECKOUT_TTL)])
def test_abandon_after_setting(setting, expected, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if setting is None:
        monkeypatch.delenv("MERCATO_CHECKOUT_ABANDON_AFTER_MINUTES", raising=False)
    else:
        monkeypatch.setenv("MERCATO_CHECKOUT_ABANDON_AFTER_MINUTES", setting)
    assert abandon_after() == expected


@given(last_activity=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                                  timezones=st.just(UTC)),
       idle_minutes=st.integers(min_value=1, max_value=24 * 60), elapsed_minutes=st.integers(0, 48 * 60))
def test_idle_cutoff_matches_idle_time(last_activity, idle_minutes, elapsed_minutes) -> None:  # type: ignore[no-untyped-def]
    """``expires_at <= cutoff`` exactly when the checkout has been idle for at least ``idle_for``."""
    expires_at = domain.checkout_expiry(last_activity)
    now = last_activity + timedelta(minutes=elapsed_minutes)
    idle_for = timedelta(minutes=idle_minutes)
    assert (expires_at <= domain.idle_expiry_cutoff(now, idle_for)) == (now - last_activity >= idle_for)
