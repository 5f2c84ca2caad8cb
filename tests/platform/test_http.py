"""API conventions over HTTP: security headers, CSP, CORS, body limit, malformed input → 4xx, catch-all 500."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from mercato.app import create_app
from mercato.platform.auth import Open
from mercato.platform.db import Database
from mercato.platform.security import encode_jwt, hash_password
from mercato.settings import Settings

LIMIT = 2048


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: uuid.UUID
    quantity: int = Field(ge=1)
    name: str = Field(max_length=20)


probe = APIRouter(prefix="/api/v1/_probe", tags=["probe"])


@probe.post("/items", summary="Echo an item", dependencies=[Open])
async def create_item(item: Item) -> dict[str, Any]:
    return item.model_dump(mode="json")


@probe.post("/raw", summary="Count raw body bytes", dependencies=[Open])
async def raw(request: Request) -> dict[str, int]:
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
    return {"bytes": n}


@probe.get("/items/{item_id}", summary="Typed path", dependencies=[Open])
async def get_item(item_id: uuid.UUID, limit: int = 10) -> dict[str, Any]:
    return {"id": str(item_id), "limit": limit}


@probe.get("/boom", summary="Fails", dependencies=[Open])
async def boom() -> None:
    raise RuntimeError("unexpected failure in the probe")


@asynccontextmanager
async def running_app(settings: Settings, db_urls: Any, **overrides: Any) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update=overrides), urls=db_urls, start_background=False)
    app.include_router(probe)
    async with app.router.lifespan_context(app):
        yield app


def http_client(app: FastAPI, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url=base_url)


@pytest.fixture(scope="module")
async def http_app(settings: Settings, db_urls: Any) -> AsyncIterator[FastAPI]:
    async with running_app(settings, db_urls, max_body_bytes=LIMIT) as app:
        yield app


@pytest_asyncio.fixture
async def operator_headers(db: Database, settings: Settings) -> dict[str, str]:
    op_id = uuid.uuid4()
    async with db.platform_transaction() as s:
        await s.execute(text("INSERT INTO platform_operators (id, email, password_hash) VALUES (:i, :e, :h)"),
                        {"i": op_id, "e": f"op-{op_id.hex[:8]}@platform.example.com", "h": hash_password("x" * 12)})
    token = encode_jwt({"sub": str(op_id), "kind": "operator", "typ": "access"},
                       settings.secret_key.get_secret_value(), 300)
    return {"Authorization": f"Bearer {token}"}


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["code"] == code and body["status"] == status, body
    assert body["type"].endswith(code) or code in ("invalid_request",)
    assert body["request_id"] == r.headers["x-request-id"]
    return body


# --------------------------------------------------------------------------- security headers


BASE_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer",
                "cross-origin-opener-policy": "same-origin"}


@pytest.mark.parametrize("path", ["/health", "/api/v1/tenants", "/nope", "/api/v1/_probe/boom", "/openapi.json"])
async def test_security_headers_on_every_response(http_app: FastAPI, path: str) -> None:
    async with http_client(http_app) as c:
        r = await c.get(path)
    for k, v in BASE_HEADERS.items():
        assert r.headers.get(k) == v, (path, k, r.status_code)
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in r.headers  # plain HTTP


async def test_hsts_only_over_https(http_app: FastAPI, settings: Settings, db_urls: Any) -> None:
    async with http_client(http_app, base_url="https://testserver") as c:
        assert "max-age=" in (await c.get("/health")).headers["strict-transport-security"]
    async with http_client(http_app) as c:  # proxy headers are not trusted by default
        r = await c.get("/health", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in r.headers
    async with running_app(settings, db_urls, trust_proxy_headers=True) as app, http_client(app) as c:
        r = await c.get("/health", headers={"X-Forwarded-Proto": "https"})
        assert "max-age=" in r.headers["strict-transport-security"]
        assert "strict-transport-security" not in (await c.get("/health")).headers


async def test_docs_page_gets_a_strict_csp_matching_its_inline_script(http_app: FastAPI) -> None:
    async with http_client(http_app) as c:
        r = await c.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    # Exactly the CDN the Swagger UI assets come from, plus the hash of the page's own inline script.
    scripts = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    assert scripts
    for s in scripts:
        digest = base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in directives["script-src"]
    assert "https://cdn.jsdelivr.net" in directives["script-src"].split()
    for src in re.findall(r'<script src="([^"]+)"', r.text):
        assert src.startswith("https://cdn.jsdelivr.net/")
    assert r.headers["x-frame-options"] == "DENY"
    assert int(r.headers["content-length"]) == len(r.content)


async def test_cors_is_off_by_default(http_app: FastAPI) -> None:
    async with http_client(http_app) as c:
        r = await c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        pre = await c.options("/api/v1/tenants", headers={"Origin": "https://evil.example",
                                                          "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in pre.headers


async def test_cors_allows_configured_origins_only(settings: Settings, db_urls: Any) -> None:
    async with running_app(settings, db_urls, cors_origins=["https://shop.example"]) as app, http_client(app) as c:
        pre = await c.options("/api/v1/tenants", headers={
            "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://shop.example"
        assert "idempotency-key" in pre.headers["access-control-allow-headers"].lower()
        assert pre.headers["x-content-type-options"] == "nosniff"
        r = await c.get("/health", headers={"Origin": "https://shop.example"})
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        bad = await c.options("/api/v1/tenants", headers={"Origin": "https://evil.example",
                                                          "Access-Control-Request-Method": "POST"})
        assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers
        r = await c.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


# --------------------------------------------------------------------------- body limit


async def test_body_over_limit_by_content_length_is_413(http_app: FastAPI) -> None:
    async with http_client(http_app) as c:
        r = await c.post("/api/v1/_probe/raw", content=b"x" * (LIMIT + 1))
        body = assert_problem(r, 413, "payload_too_large")
        assert str(LIMIT) in body["detail"]
        ok = await c.post("/api/v1/_probe/raw", content=b"x" * LIMIT)
        assert ok.status_code == 200 and ok.json() == {"bytes": LIMIT}


async def test_chunked_body_over_limit_is_413_without_buffering(http_app: FastAPI) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):  # 1 MB offered; the server must stop long before
            sent += 1024
            yield b"y" * 1024

    async with http_client(http_app) as c:
        r = await c.post("/api/v1/_probe/raw", content=chunks())
        assert "content-length" not in r.request.headers
        assert_problem(r, 413, "payload_too_large")
        assert sent < 64 * 1024, sent  # stopped reading soon after the limit

        async def small() -> AsyncIterator[bytes]:
            yield b"a" * 100
            yield b"b" * 100

        ok = await c.post("/api/v1/_probe/raw", content=small())
        assert ok.status_code == 200 and ok.json() == {"bytes": 200}
        # JSON routes read the body through FastAPI: same answer.
        r = await c.post("/api/v1/_probe/items", content=chunks(), headers={"Content-Type": "application/json"})
        assert_problem(r, 413, "payload_too_large")


async def test_body_limit_applies_to_real_routes(http_app: FastAPI, operator_headers: dict[str, str]) -> None:
    async with http_client(http_app) as c:
        r = await c.post("/api/v1/tenants", headers=operator_headers,
                         json={"name": "x" * (LIMIT + 10), "slug": "s", "owner_email": "a@b.co", "owner_password": "p"})
        assert_problem(r, 413, "payload_too_large")


# --------------------------------------------------------------------------- malformed input never 500


async def test_malformed_json_is_400(http_app: FastAPI, operator_headers: dict[str, str]) -> None:
    async with http_client(http_app) as c:
        for raw in (b"{not json", b'{"name": "x",}', b"\xff\xfe", b'{"a": 1'):
            r = await c.post("/api/v1/tenants", content=raw,
                             headers={**operator_headers, "Content-Type": "application/json"})
            assert_problem(r, 400, "malformed_json")
        r = await c.post("/api/v1/_probe/items", content=b"[1, 2", headers={"Content-Type": "application/json"})
        assert_problem(r, 400, "malformed_json")


async def test_wrong_types_and_bad_uuids_are_422_per_field(http_app: FastAPI) -> None:
    async with http_client(http_app) as c:
        r = await c.post("/api/v1/_probe/items", json={"id": "not-a-uuid", "quantity": "many", "name": "x" * 50})
        body = assert_problem(r, 422, "invalid_request")
        fields = {e["field"]: e for e in body["errors"]}
        assert set(fields) == {"body.id", "body.quantity", "body.name"}
        assert fields["body.id"]["code"] == "uuid_parsing"
        assert fields["body.quantity"]["code"] == "int_parsing"
        assert all(e["message"] for e in body["errors"])
        r = await c.get("/api/v1/_probe/items/not-a-uuid", params={"limit": "ten"})
        body = assert_problem(r, 422, "invalid_request")
        assert {e["field"] for e in body["errors"]} == {"path.item_id", "query.limit"}
        r = await c.post("/api/v1/_probe/items", json=[1, 2, 3])
        assert_problem(r, 422, "invalid_request")


async def test_unknown_fields_are_rejected(http_app: FastAPI, operator_headers: dict[str, str]) -> None:
    async with http_client(http_app) as c:
        r = await c.post("/api/v1/_probe/items",
                         json={"id": str(uuid.uuid4()), "quantity": 1, "name": "ok", "is_admin": True})
        body = assert_problem(r, 422, "invalid_request")
        assert body["errors"] == [{"field": "body.is_admin", "code": "unknown_field", "message": body["errors"][0]["message"]}]
        slug = f"s{uuid.uuid4().hex[:10]}"
        r = await c.post("/api/v1/tenants", headers=operator_headers, json={
            "name": "Shop", "slug": slug, "owner_email": f"owner@{slug}.example.com",
            "owner_password": "a long enough password", "status": "active", "id": str(uuid.uuid4())})
        body = assert_problem(r, 422, "invalid_request")
        assert {e["code"] for e in body["errors"]} == {"unknown_field"}
        assert {e["field"] for e in body["errors"]} == {"body.status", "body.id"}


async def test_bad_uuid_in_real_route_is_422(http_app: FastAPI, operator_headers: dict[str, str]) -> None:
    async with http_client(http_app) as c:
        r = await c.get("/api/v1/tenants/not-a-uuid", headers=operator_headers)
        body = assert_problem(r, 422, "invalid_request")
        assert body["errors"][0]["field"] == "path.tenant_id"
        r = await c.get("/api/v1/tenants", params={"limit": "0"}, headers=operator_headers)
        assert_problem(r, 422, "invalid_request")
        r = await c.get("/api/v1/tenants", params={"cursor": "!!!"}, headers=operator_headers)
        assert r.status_code == 400


async def test_method_not_allowed_and_not_found_are_problems(http_app: FastAPI) -> None:
    async with http_client(http_app) as c:
        assert_problem(await c.delete("/health"), 405, "method_not_allowed")
        assert_problem(await c.get("/api/v1/does-not-exist"), 404, "not_found")


# --------------------------------------------------------------------------- catch-all


async def test_unexpected_error_is_500_problem_with_request_id(http_app: FastAPI, capsys) -> None:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    async with http_client(http_app) as c:
        r = await c.get("/api/v1/_probe/boom", headers={"X-Request-ID": "boom-1"})
    body = assert_problem(r, 500, "internal_error")
    assert body["request_id"] == "boom-1"
    assert "unexpected failure" not in r.text  # internals stay in the log
    assert r.headers["x-content-type-options"] == "nosniff"
    out = capsys.readouterr().out
    assert "Traceback" in out and "RuntimeError: unexpected failure in the probe" in out
    assert out.count("Traceback (most recent call last)") == 1  # logged once, not by every layer


async def test_multipart_uploads_get_the_larger_limit(client) -> None:
    from mercato.settings import get_settings

    s = get_settings()
    size = s.max_body_bytes + 10
    boundary = "mercatoboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    body = head + b"x" * size + f"\r\n--{boundary}--\r\n".encode()
    r = await client.post("/api/v1/tenants", content=body,
                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code != 413  # reached the route (which then refuses: no operator)
    json_body = b'{"x": "' + b"y" * size + b'"}'
    r2 = await client.post("/api/v1/tenants", content=json_body, headers={"Content-Type": "application/json"})
    assert r2.status_code == 413 and r2.json()["code"] == "payload_too_large"
