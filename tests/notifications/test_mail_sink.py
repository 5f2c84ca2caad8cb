"""The dev mail sink: notification events become .eml files after the relay runs."""

from __future__ import annotations

import asyncio
import email
import logging
import uuid
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import text

import mercato.notifications as notifications
from mercato.notifications import domain, rendering, sinks
from mercato.notifications.handlers import CONSUMER
from mercato.platform.db import Database
from mercato.platform.events import Relay


async def event_id_for(worker_db: Database, to: str) -> uuid.UUID:
    async with worker_db.transaction() as s:
        return (await s.execute(text("SELECT event_id FROM outbox WHERE data->>'to' = :to"), {"to": to})).scalar_one()


async def relay_until(relay: Relay, path_of, limit: float = 20.0) -> Path:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(limit):
        while True:
            found = path_of()
            if found is not None:
                return found
            await relay.run_once()
            await asyncio.sleep(0.01)


def eml_for(settings, notification_id: uuid.UUID) -> Path | None:  # type: ignore[no-untyped-def]
    matches = sorted(sinks.mail_dir(settings).glob(f"*-{notification_id}.eml"))
    return matches[0] if matches else None


async def test_committed_notification_lands_as_an_eml_file_once(db, worker_db, tenant, settings) -> None:
    to = f"ann.{uuid.uuid4().hex[:8]}@example.com"
    token = f"tok-{uuid.uuid4().hex}"
    async with db.tenant_transaction(tenant.id) as s:
        await notifications.request_email(s, to=to, template="email_verification",
                                          context={"token": token, "first_name": "Ann"})
    event_id = await event_id_for(worker_db, to)
    # The message's id derives from the event: a redelivery names the same message (and file).
    message_id = domain.message_id(tenant.id, source=str(event_id), channel="email", template="email_verification",
                                   recipient=to)
    relay = Relay(worker_db, db)
    path = await relay_until(relay, lambda: eml_for(settings, message_id))

    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["To"] == to
    assert msg["From"] == settings.mail_from
    assert msg["Subject"] == "Confirm your email address"
    assert msg["Message-ID"] == f"<{message_id}@mercato>"
    assert msg["X-Mercato-Template"] == "email_verification"
    assert msg["X-Mercato-Event"] == str(event_id)
    text_body = msg.get_body(preferencelist=("plain",)).get_content()
    html_body = msg.get_body(preferencelist=("html",)).get_content()
    assert token in text_body and "Hello Ann" in text_body
    assert token in html_body and "Hello Ann" in html_body

    # A redelivery (relay crashed before marking it) is skipped by the consumer's dedup.
    async with worker_db.transaction() as s:
        await s.execute(text("UPDATE outbox SET published_at = NULL WHERE event_id = :e"), {"e": event_id})
    path.unlink()
    await relay.drain()
    assert eml_for(settings, message_id) is None
    async with db.tenant_transaction(tenant.id) as s:
        rows = (await s.execute(text("SELECT consumer FROM processed_events WHERE event_id = :e"),
                                {"e": event_id})).scalars().all()
    assert rows == [CONSUMER]


async def test_rolled_back_notification_sends_nothing(db, worker_db, tenant, settings) -> None:
    to = f"bob.{uuid.uuid4().hex[:8]}@example.com"
    with pytest.raises(RuntimeError):
        async with db.tenant_transaction(tenant.id) as s:
            await notifications.request_email(s, to=to, template="welcome", context={})
            raise RuntimeError("signup failed")
    async with worker_db.transaction() as s:
        assert (await s.execute(text("SELECT count(*) FROM outbox WHERE data->>'to' = :to"), {"to": to})
                ).scalar_one() == 0


@pytest.mark.parametrize(("template", "subject"), [
    ("email_verification", "Confirm your email address"),
    ("password_reset", "Reset your password"),
    ("staff_invitation", "You are invited to join the shop team"),
    ("welcome", "Welcome"),
])
def test_each_template_renders_its_token(template: str, subject: str) -> None:
    rendered = rendering.render(template, {"token": "T0K3N", "first_name": None, "role": "merchant"})
    assert rendered.template == template
    assert rendered.subject == subject
    assert "Hello there" in rendered.body and "Hello there" in (rendered.html or "")
    if template != "welcome":
        assert "T0K3N" in rendered.body and "T0K3N" in (rendered.html or "")
    if template == "staff_invitation":
        assert "as merchant" in rendered.body


def test_unknown_or_unsafe_template_falls_back_to_the_generic_one() -> None:
    for name in ("no_such_template", "../../etc/passwd", "Email_Verification"):
        rendered = rendering.render(name, {"order": "#1001", "token": "abc"})
        assert rendered.template == "generic"
        assert name in rendered.subject
        assert "order: #1001" in rendered.body and "token: abc" in rendered.body


def test_locale_specific_template_is_preferred_then_the_default() -> None:
    # exact → language → en: fr-CA finds the French welcome; an unknown language gets English.
    fr = rendering.render("welcome", {}, locale="fr-CA")
    assert (fr.template, fr.locale, fr.subject) == ("welcome", "fr", "Bienvenue")
    assert rendering.render("welcome", {}, locale="pt-BR").locale == "en"
    junk = rendering.render("welcome", {}, locale="not a locale!")
    assert (junk.template, junk.locale) == ("welcome", "en")


def test_message_is_rfc5322() -> None:
    rendered = rendering.render("welcome", {"shop_name": "Acme"})
    msg = rendering.build_message(rendered, sender="Shop <no-reply@acme.test>", to="c@acme.test")
    parsed = email.message_from_bytes(bytes(msg), policy=policy.default)
    assert parsed["Subject"] == "Welcome to Acme"
    assert parsed["Date"] and parsed["Message-ID"].endswith("@mercato>")
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_mask_email() -> None:
    assert rendering.mask_email("alice@example.com") == "a***@example.com"
    assert rendering.mask_email("not-an-address") == "***"


async def test_file_sink_logs_one_masked_line(settings, tmp_path, caplog) -> None:
    local = settings.model_copy(update={"data_dir": tmp_path})
    msg = rendering.build_message(rendering.render("welcome", {}), sender="x@y.z", to="carol@example.com")
    with caplog.at_level(logging.INFO, logger="mercato.notifications"):
        path = await sinks.deliver(msg, settings=local, key="k1", template="welcome")
    assert path is not None and path.parent == tmp_path / "mail" and path.name.endswith("-k1.eml")
    lines = [r.getMessage() for r in caplog.records if r.name == "mercato.notifications"]
    assert len(lines) == 1 and "c***@example.com" in lines[0] and "carol@" not in lines[0]
    assert [p.name for p in (tmp_path / "mail").iterdir()] == [path.name]  # no temp files left


async def test_console_sink_logs_the_message(settings, tmp_path, caplog) -> None:
    local = settings.model_copy(update={"mail_sink": "console", "data_dir": tmp_path})
    msg = rendering.build_message(rendering.render("password_reset", {"token": "R3SET"}), sender="x@y.z",
                                  to="dave@example.com")
    with caplog.at_level(logging.INFO, logger="mercato.notifications"):
        assert await sinks.deliver(msg, settings=local, key="k2", template="password_reset") is None
    assert "R3SET" in caplog.text and "d***@example.com" in caplog.text
    assert not (tmp_path / "mail").exists()


async def test_smtp_sink_without_a_server_is_a_temporary_failure(settings) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    local = settings.model_copy(update={"mail_sink": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port})
    msg = rendering.build_message(rendering.render("welcome", {}), sender="x@y.z", to="e@example.com")
    with pytest.raises(sinks.MailSinkUnavailable, match=f"127.0.0.1:{port}"):
        await sinks.deliver(msg, settings=local, key="k3", template="welcome")
