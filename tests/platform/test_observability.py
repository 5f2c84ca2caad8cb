"""Request ids, traceparent, the access log line, PII masking, /metrics and OpenTelemetry — over HTTP."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI

from mercato.app import create_app
from mercato.platform.auth import Open, Public
from mercato.platform.observability import mask_text, parse_traceparent
from mercato.settings import Settings

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

probe = APIRouter(prefix="/api/v1/_probe", tags=["probe"])


@probe.get("/whoami", summary="Resolves the caller")
async def whoami(principal: Public) -> dict[str, Any]:
    return {"kind": principal.kind}


@probe.get("/boom", summary="Fails", dependencies=[Open])
async def boom() -> None:
    raise RuntimeError("kaboom: card 4111 1111 1111 1111 of jane.doe@example.com")


@asynccontextmanager
async def running_app(settings: Settings, db_urls: Any, **overrides: Any) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update=overrides), urls=db_urls, start_background=False)
    app.include_router(probe)
    async with app.router.lifespan_context(app):
        yield app


def http_client(app: FastAPI, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture(scope="module")
async def obs_app(settings: Settings, db_urls: Any) -> AsyncIterator[FastAPI]:
    async with running_app(settings, db_urls) as app:
        yield app


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def access_lines(text: str) -> list[dict[str, Any]]:
    return [d for d in json_lines(text) if d.get("logger") == "mercato.access"]


# --------------------------------------------------------------------------- request id


async def test_request_id_generated_honoured_or_replaced(obs_app: FastAPI) -> None:
    async with http_client(obs_app) as c:
        r = await c.get("/health")
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
        r = await c.get("/health", headers={"X-Request-ID": "abc.DEF_123-x"})
        assert r.headers["x-request-id"] == "abc.DEF_123-x"
        for bad in ("a" * 101, "has space", "semi;colon", "<script>", ""):
            r = await c.get("/health", headers={"X-Request-ID": bad})
            assert r.headers["x-request-id"] != bad
            assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


async def test_request_id_on_errors_and_in_problem(obs_app: FastAPI) -> None:
    async with http_client(obs_app) as c:
        r = await c.get("/api/v1/nowhere", headers={"X-Request-ID": "rid-404"})
        assert r.status_code == 404 and r.headers["x-request-id"] == "rid-404"
        assert r.json()["request_id"] == "rid-404"
        r = await c.get("/api/v1/_probe/boom", headers={"X-Request-ID": "rid-500"})
        assert r.status_code == 500 and r.headers["x-request-id"] == "rid-500"
        assert r.json()["request_id"] == "rid-500" and r.json()["code"] == "internal_error"
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "traceparent" in r.headers


# --------------------------------------------------------------------------- traceparent


async def test_traceparent_continues_incoming_trace_with_new_span(obs_app: FastAPI) -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with http_client(obs_app) as c:
        r = await c.get("/health", headers={"traceparent": incoming})
    m = TRACEPARENT.match(r.headers["traceparent"])
    assert m, r.headers["traceparent"]
    assert m.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert m.group(2) != "00f067aa0ba902b7"
    assert m.group(3) == "01"


@pytest.mark.parametrize("bad", [None, "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
                                 "00-4bf92f3577b34da6a3ce929d0e0e4736-" + "0" * 16 + "-01",
                                 "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                 "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"])
async def test_traceparent_generated_when_absent_or_invalid(obs_app: FastAPI, bad: str | None) -> None:
    headers = {"traceparent": bad} if bad is not None else {}
    async with http_client(obs_app) as c:
        r = await c.get("/health", headers=headers)
    m = TRACEPARENT.match(r.headers["traceparent"])
    assert m and m.group(1) != "0" * 32
    if bad and len(bad) > 40:
        assert m.group(1) != bad[3:35].lower()


def test_parse_traceparent_future_versions() -> None:
    assert parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") is not None
    assert parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") is None


# --------------------------------------------------------------------------- access log


async def test_one_access_line_per_request_with_route_template(obs_app: FastAPI, capsys, tenant) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    tid = uuid.uuid4()
    async with http_client(obs_app, ip="10.1.2.3") as c:
        r = await c.get(f"/api/v1/tenants/{tid}", headers={"X-Request-ID": "rid-access-1"})
        assert r.status_code == 401
        r2 = await c.get("/api/v1/_probe/whoami", headers={**tenant.admin_headers, "X-Request-ID": "rid-access-2"})
        assert r2.status_code == 200, r2.text
    lines = access_lines(capsys.readouterr().out)
    first = [line for line in lines if line.get("request_id") == "rid-access-1"]
    assert len(first) == 1, lines
    line = first[0]
    assert line["event"] == "request" and line["level"] == "info"
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/tenants/{tenant_id}"
    assert line["path"] == f"/api/v1/tenants/{tid}"
    assert line["status"] == 401
    assert isinstance(line["duration_ms"], float | int) and line["duration_ms"] >= 0
    assert line["client_ip"] == "10.1.2.3"
    assert line["tenant_id"] is None and line["user_id"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
    assert "timestamp" in line
    second = [line for line in lines if line.get("request_id") == "rid-access-2"]
    assert len(second) == 1
    assert second[0]["tenant_id"] == str(tenant.id)
    assert second[0]["route"] == "/api/v1/_probe/whoami"


async def test_unmatched_routes_share_one_template(obs_app: FastAPI, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    async with http_client(obs_app) as c:
        await c.get("/no/such/path/123", headers={"X-Request-ID": "rid-unmatched"})
    (line,) = [x for x in access_lines(capsys.readouterr().out) if x["request_id"] == "rid-unmatched"]
    assert line["route"] == "<unmatched>" and line["status"] == 404


async def test_unhandled_error_logs_traceback_with_request_id(obs_app: FastAPI, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    async with http_client(obs_app) as c:
        r = await c.get("/api/v1/_probe/boom", headers={"X-Request-ID": "rid-tb"})
    assert r.status_code == 500
    out = capsys.readouterr().out
    lines = json_lines(out)
    errors = [x for x in lines if x.get("level") == "error" and x.get("request_id") == "rid-tb"]
    assert errors, out
    assert "RuntimeError: kaboom" in errors[0]["exception"]
    assert "Traceback" in errors[0]["exception"]
    # ...masked like every other line.
    assert "4111 1111 1111 1111" not in out and "jane.doe@example.com" not in out
    (acc,) = [x for x in access_lines(out) if x["request_id"] == "rid-tb"]
    assert acc["status"] == 500


# --------------------------------------------------------------------------- PII masking

SECRETS = {
    "email": "jane.doe@example.com",
    "phone_intl": "+44 20 7946 0958",
    "phone_e164": "+14155552671",
    "phone_us": "(415) 555-2671",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "secret_key": "mksk_abcdefghijklmnopqrstuv_0123456789abcdefghijklmnop",
    "publishable_key": "mkpk_abcdefghijklmnop_0123456789zyxwvut",
    "refresh": "mkrt_platform_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
    "card": "4111111111111111",
    "card_spaced": "5500 0000 0000 0004",
    "password": "hunter2-correct-horse",
    "opaque_token": "Zq8vXk2Lm9Np4Rs7Tu1Wy3",
}


def _assert_no_leak(out: str) -> None:
    for name, value in SECRETS.items():
        assert value not in out, f"{name} leaked: {out}"
    for digits in ("4111111111111111", "5500000000000004", "14155552671", "4155552671", "2079460958"):
        assert digits not in re.sub(r"[ ()-]", "", out), f"{digits} leaked"


async def test_pii_is_masked_in_every_emitted_line(obs_app: FastAPI, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    payload = {
        "customer": {"email": SECRETS["email"], "phone": SECRETS["phone_intl"], "note": f"call {SECRETS['phone_us']}"},
        "headers": {"Authorization": f"Bearer {SECRETS['jwt']}", "Cookie": "session=abc123def456"},
        "password": SECRETS["password"],
        "new_password": SECRETS["password"],
        "client_secret": SECRETS["opaque_token"],
        "refresh_token": SECRETS["refresh"],
        "keys": [SECRETS["secret_key"], SECRETS["publishable_key"]],
        "card": SECRETS["card"],
        "card_as_int": int(SECRETS["card"]),
        "free_text": (f"user {SECRETS['email']} paid with {SECRETS['card_spaced']} via "
                      f"Authorization: Bearer {SECRETS['secret_key']} from {SECRETS['phone_e164']}"),
    }
    structlog.get_logger("mercato.test").info(f"signup by {SECRETS['email']}", payload=payload, **payload)
    logging.getLogger("mercato.test.stdlib").warning("stdlib %s with %s", SECRETS["email"], SECRETS["jwt"],
                                                       extra={"password": SECRETS["password"]})
    out = capsys.readouterr().out
    lines = json_lines(out)
    assert len(lines) >= 2, out
    _assert_no_leak(out)
    first = next(x for x in lines if x.get("logger") == "mercato.test")
    assert first["event"] == "signup by j***@example.com"
    assert first["customer"]["email"] == "j***@example.com"
    assert first["password"] == "***" and first["payload"]["password"] == "***"
    assert first["card"] == "****1111" and first["card_as_int"] == "****1111"
    assert first["keys"][0].startswith("mksk_***")
    assert first["customer"]["phone"].endswith("58") and "*" in first["customer"]["phone"]


def test_mask_text_leaves_ordinary_values_alone() -> None:
    ordinary = ["/api/v1/tenants/0b9f5b2e-6a3e-4c1e-9d7a-3f1f0d1c2b3a", "2024-05-01T12:00:00+00:00",
                "order 1234 shipped", "GET", "12345", "duration 0.123"]
    for text in ordinary:
        assert mask_text(text) == text
    assert mask_text("4111111111111112") == "4111111111111112"  # fails Luhn: not a card


# --------------------------------------------------------------------------- metrics


async def test_metrics_exposes_requests_durations_and_pool(obs_app: FastAPI) -> None:
    async with http_client(obs_app) as c:
        await c.get(f"/api/v1/tenants/{uuid.uuid4()}")
        await c.get(f"/api/v1/tenants/{uuid.uuid4()}")
        await c.get("/health")
        r = await c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    m = re.search(r'http_requests_total\{method="GET",route="/api/v1/tenants/\{tenant_id\}",status="401"\} (\d+)', text)
    assert m and float(m.group(1)) >= 2, text
    assert re.search(r'http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="/health"\}', text) \
        or re.search(r'http_request_duration_seconds_bucket\{method="GET",route="/health",le="0\.005"\}', text)
    assert 'http_request_duration_seconds_count{method="GET",route="/health"}' in text
    for gauge in ("db_pool_size", "db_pool_checked_out", "db_pool_overflow"):
        assert re.search(rf"^{gauge} \d", text, re.M), gauge
    assert "/api/v1/tenants/" + "0" not in text  # raw paths never become labels


async def test_each_app_has_its_own_registry(settings: Settings, db_urls: Any) -> None:
    async with running_app(settings, db_urls) as a, running_app(settings, db_urls) as b:
        async with http_client(a) as ca, http_client(b) as cb:
            for _ in range(3):
                await ca.get("/health")
            text_b = (await cb.get("/metrics")).text
            text_a = (await ca.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/health",status="200"} 3.0' in text_a
    assert 'route="/health"' not in text_b


# --------------------------------------------------------------------------- OpenTelemetry


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_tracing_with_unreachable_collector_does_not_break_requests(settings: Settings, db_urls: Any) -> None:
    endpoint = f"http://127.0.0.1:{_unused_port()}"
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    started = time.monotonic()
    async with running_app(settings, db_urls, otlp_endpoint=endpoint) as app:
        assert app.state.tracing is not None
        async with http_client(app) as c:
            for _ in range(5):
                r = await c.get("/health", headers={"traceparent": incoming})
                assert r.status_code == 200
                m = TRACEPARENT.match(r.headers["traceparent"])
                assert m and m.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736" and m.group(2) != "00f067aa0ba902b7"
            r = await c.get("/api/v1/_probe/boom")
            assert r.status_code == 500
            r = await c.get("/health")
            assert r.status_code == 200 and TRACEPARENT.match(r.headers["traceparent"])
    assert time.monotonic() - started < 30


async def test_tracing_is_off_without_endpoint(obs_app: FastAPI) -> None:
    assert obs_app.state.settings.otlp_endpoint is None
    assert obs_app.state.tracing is None
