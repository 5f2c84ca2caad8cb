"""Delivery guarantees: an order confirmation survives an API death and a worker crash; SMTP for
real against a loopback server; retries with backoff, the attempt cap, bounces; log-only SMS/push."""

from __future__ import annotations

import asyncio
import contextlib
import email
import logging
import uuid
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from notification_helpers import bodies, eml_for, log_rows, order_paid_data, parse_eml
from smtp_responder import SmtpResponder
from sqlalchemy import text

from mercato.notifications import channels, domain
from mercato.notifications.channels import EmailChannel, OutgoingMessage
from mercato.notifications.service import delivery
from mercato.notifications.tasks import retry_failed
from mercato.platform.db import Database
from mercato.platform.events import Relay, publish

CONFIRMATION = "notifications.order_confirmation"


class CrashAfterSending(EmailChannel):
    """The real email channel — which, for the ``crash_at``-th message of one tenant, sends and
    then hangs (the worker is killed while the handler's transaction is still open)."""

    def __init__(self, tenant_id: uuid.UUID, crash_at: int) -> None:
        self.tenant_id, self.crash_at, self.seen = tenant_id, crash_at, 0
        self.hanging = asyncio.Event()

    async def send(self, message: OutgoingMessage, settings) -> None:  # type: ignore[no-untyped-def]
        await super().send(message, settings)
        if message.tenant_id == self.tenant_id:
            self.seen += 1
            if self.seen == self.crash_at:
                self.hanging.set()
                await asyncio.Event().wait()  # until cancelled


async def test_order_confirmations_survive_api_death_and_a_worker_crash_mid_batch(
        db_urls, db, worker_db, tenant, settings) -> None:
    orders = [order_paid_data(email_addr=f"buyer{i}.{uuid.uuid4().hex[:6]}@example.com", number=f"#{1000 + i}")
              for i in range(6)]

    # The API: commits the orders' order.paid events, then dies (its connections are gone).
    api = Database(db_urls.runtime, pool_size=1, max_overflow=0)
    async with api.tenant_transaction(tenant.id) as s:
        event_ids = [await publish(s, "order.paid", aggregate_type="order", aggregate_id=o["order_id"], data=o)
                     for o in orders]
    await api.dispose()
    message_ids = [domain.message_id(tenant.id, source=f"order_confirmation:{o['order_id']}", channel="email",
                                     template="order_confirmation", recipient=o["email"]) for o in orders]

    # Worker 1 takes the whole batch and is killed in the middle of it: the 3rd confirmation was
    # written out, but its transaction (and the batch's) never commits.
    crashing = CrashAfterSending(tenant.id, crash_at=3)
    channels.register_channel(crashing)
    worker1_db = Database(db_urls.worker, pool_size=1, max_overflow=0)
    relay1 = Relay(worker1_db, db, batch_size=500, name="worker-1")
    task1 = asyncio.create_task(relay1.run(poll_interval=0.05))
    try:
        async with asyncio.timeout(20):
            await crashing.hanging.wait()
        task1.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task1
    finally:
        channels.register_channel(EmailChannel())
        await worker1_db.dispose()
    sent_before = await log_rows(db, tenant.id, "template = 'order_confirmation'")
    assert [r.id for r in sent_before] and len(sent_before) == 2  # 1 and 2 committed; 3 rolled back
    async with worker_db.transaction() as s:
        unpublished = (await s.execute(text(
            "SELECT count(*) FROM outbox WHERE event_id = ANY(:ids) AND published_at IS NULL"),
            {"ids": event_ids})).scalar_one()
    assert unpublished == 6  # the batch's marks rolled back with the crash

    # Worker 2 starts: within seconds every confirmation exists — exactly once.
    worker2_db = Database(db_urls.worker, pool_size=1, max_overflow=0)
    relay2 = Relay(worker2_db, db, batch_size=500, name="worker-2")
    task2 = asyncio.create_task(relay2.run(poll_interval=0.05))
    started = asyncio.get_running_loop().time()
    try:
        async with asyncio.timeout(10):
            while True:
                rows = await log_rows(db, tenant.id, "template = 'order_confirmation' AND status = 'sent'")
                if len(rows) == 6:
                    break
                await asyncio.sleep(0.05)
    finally:
        relay2.stop()
        await task2
        await worker2_db.dispose()
    assert asyncio.get_running_loop().time() - started < 10

    rows = await log_rows(db, tenant.id, "template = 'order_confirmation'")
    assert sorted(r.id for r in rows) == sorted(message_ids)
    assert all(r.status == "sent" and r.attempts == 1 and r.sent_at and r.context == {} for r in rows)
    assert sorted(r.event_id for r in rows) == sorted(event_ids)
    for order, message_id in zip(orders, message_ids, strict=True):
        files = eml_for(settings, message_id)
        assert len(files) == 1, files  # the 3rd was sent twice (at least once) but names the same file
        msg = parse_eml(files[0])
        assert msg["To"] == order["email"] and msg["Subject"] == f"Order {order['number']} confirmed"
        text_body, html_body = bodies(msg)
        assert "2 x T-shirt — Black / M (TEE-BLK-M)  39.98 EUR" in text_body
        assert "1,234.56 EUR" in text_body and "Total:     1,269.53 EUR" in text_body
        assert html_body is not None and "Mug &lt;Deluxe&gt;" in html_body
    async with db.tenant_transaction(tenant.id) as s:
        marks = (await s.execute(text("SELECT event_id FROM processed_events WHERE consumer = :c "
                                      "AND event_id = ANY(:ids)"), {"c": CONFIRMATION, "ids": event_ids})).all()
    assert len(marks) == 6
    async with worker_db.transaction() as s:
        assert (await s.execute(text("SELECT count(*) FROM outbox WHERE event_id = ANY(:ids) "
                                     "AND published_at IS NOT NULL"), {"ids": event_ids})).scalar_one() == 6


# --------------------------------------------------------------------------- SMTP, for real


@pytest.fixture
async def smtp():  # type: ignore[no-untyped-def]
    server = await SmtpResponder().start()
    yield server
    await server.close()


def smtp_settings(settings, port: int):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"mail_sink": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port})


async def _dispatch(db: Database, tenant_id: uuid.UUID, local, *, to: str, template: str = "password_reset",  # type: ignore[no-untyped-def]
                    context: dict | None = None, channel: str = "email", locale: str = "en"):
    async with db.tenant_transaction(tenant_id) as s:
        row = await delivery.dispatch(s, settings=local, channel=channel, template=template, recipient=to,
                                      locale=locale, context=context or {"token": "S3CRET", "first_name": "Ann"},
                                      event_id=uuid.uuid4())
        assert row is not None
        return row.id


async def test_smtp_delivers_a_multipart_message(db, tenant, settings, smtp) -> None:
    to = f"ann.{uuid.uuid4().hex[:6]}@example.com"
    notification_id = await _dispatch(db, tenant.id, smtp_settings(settings, smtp.port), to=to)
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received.recipients == [to] and received.sender == "no-reply@localhost"
    msg = email.message_from_bytes(received.data, policy=policy.default)
    assert msg["Subject"] == "Reset your password" and msg["Message-ID"] == f"<{notification_id}@mercato>"
    text_body, html_body = bodies(msg)  # type: ignore[arg-type]
    assert "S3CRET" in text_body and html_body and "S3CRET" in html_body
    [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
    assert (row.status, row.attempts, row.failure_reason, row.subject) == ("sent", 1, None, "Reset your password")
    assert row.context == {}  # the one-time token is not kept once sent


async def test_temporary_smtp_failures_are_retried_with_backoff_until_sent(db, worker_db, tenant, settings,
                                                                           smtp) -> None:
    smtp.rcpt_replies = ["451 4.3.0 mailbox busy", "421 4.7.0 try again later"]
    local = smtp_settings(settings, smtp.port)
    to = f"bo.{uuid.uuid4().hex[:6]}@example.com"
    notification_id = await _dispatch(db, tenant.id, local, to=to)
    [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
    assert (row.status, row.attempts) == ("queued", 1) and "451" in row.failure_reason
    first_wait = (row.next_attempt_at - datetime.now(UTC)).total_seconds()
    assert domain.RETRY_SCHEDULE[0] * 0.8 - 2 <= first_wait <= domain.RETRY_SCHEDULE[0] * 1.2
    assert row.context["token"] == "S3CRET"  # kept for the retry

    # Not due yet: the job leaves it alone.
    assert (await retry_failed(db, worker_db, settings=local)).get("sent") is None
    [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
    assert row.attempts == 1

    later = row.next_attempt_at + timedelta(seconds=1)
    await retry_failed(db, worker_db, now=later, settings=local)
    [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
    assert (row.status, row.attempts) == ("queued", 2)
    assert (row.next_attempt_at - later).total_seconds() >= domain.RETRY_SCHEDULE[1] * 0.8 - 2  # backs off more

    await retry_failed(db, worker_db, now=row.next_attempt_at + timedelta(seconds=1), settings=local)
    [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
    assert (row.status, row.attempts, row.failure_reason, row.next_attempt_at) == ("sent", 3, None, None)
    assert [m.recipients for m in smtp.messages] == [[to]]


async def test_a_message_that_keeps_failing_gives_up_after_the_cap(db, worker_db, tenant, settings, smtp) -> None:
    await smtp.close()  # nobody listens any more: every attempt fails to connect
    local = smtp_settings(settings, smtp.port)
    notification_id = await _dispatch(db, tenant.id, local, to=f"cap.{uuid.uuid4().hex[:6]}@example.com")
    for _ in range(domain.MAX_ATTEMPTS + 2):
        [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
        if row.status != "queued":
            break
        await retry_failed(db, worker_db, now=row.next_attempt_at + timedelta(seconds=1), settings=local)
    [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", domain.MAX_ATTEMPTS, None)
    assert "127.0.0.1" in row.failure_reason and row.context == {}


async def test_a_refused_recipient_bounces_without_retry(db, tenant, settings, smtp) -> None:
    to = f"gone.{uuid.uuid4().hex[:6]}@example.com"
    smtp.refuse[to] = "550 5.1.1 no such user"
    notification_id = await _dispatch(db, tenant.id, smtp_settings(settings, smtp.port), to=to)
    [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("bounced", 1, None)
    assert "550" in row.failure_reason and smtp.messages == []


# --------------------------------------------------------------------------- log-only channels


@pytest.mark.parametrize(("channel", "to", "masked"), [("sms", "+447700900789", "+44*******789"),
                                                        ("push", "3f2a9c1e-user-device", "***vice")])
async def test_sms_and_push_are_logged_masked(db, tenant, settings, caplog, channel: str, to: str,
                                              masked: str) -> None:
    with caplog.at_level(logging.INFO, logger="mercato.notifications"):
        notification_id = await _dispatch(db, tenant.id, settings, to=to, channel=channel, template="order_shipped",
                                          context={"order_number": "#42", "tracking_url": "https://t.test/42"})
    [row] = await log_rows(db, tenant.id, "id = :id", id=notification_id)
    assert (row.status, row.channel) == ("sent", channel)
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith(f"{channel} order_shipped"))
    assert masked in line and to not in line and "#42" in line
