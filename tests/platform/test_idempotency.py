"""Idempotency-Key through HTTP, on a fresh app with throwaway routes, real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, Depends, Response
from sqlalchemy import text

from mercato.app import create_app
from mercato.platform import idempotency
from mercato.platform.auth import Authenticated, Public
from mercato.platform.db import SessionDep
from mercato.platform.errors import Conflict

calls: list[dict[str, Any]] = []
behaviour: dict[str, Any] = {"delay": 0.0, "fail_next": 0}

router = APIRouter(prefix="/idem-test")


@router.post("/things", status_code=201)
async def create_thing(payload: dict[str, Any], response: Response, session: SessionDep,
                       principal: Authenticated) -> dict[str, Any]:
    calls.append(payload)
    if behaviour["delay"]:
        await asyncio.sleep(behaviour["delay"])
    if behaviour["fail_next"]:
        behaviour["fail_next"] -= 1
        raise RuntimeError("database fell over")
    thing_id = uuid.uuid4()
    # A side effect in the request's own transaction, as a real use case would write.
    await session.execute(text(
        "INSERT INTO audit_log (tenant_id, actor_type, action, resource_type, resource_id) "
        "VALUES (:t, 'system', 'test.thing_created', 'thing', :r)"), {"t": principal.tenant_id, "r": str(thing_id)})
    response.headers["Location"] = f"/idem-test/things/{thing_id}"
    return {"id": str(thing_id), "payload": payload}


@router.post("/conflicts")
async def conflicting(payload: dict[str, Any], principal: Authenticated) -> dict[str, Any]:
    calls.append(payload)
    raise Conflict("already shipped")


@router.post("/secrets", dependencies=[Depends(idempotency.redact("payment.client_secret", "token", "a.b.c"))])
async def with_secret(payload: dict[str, Any], principal: Authenticated) -> dict[str, Any]:
    calls.append(payload)
    return {"n": len(calls), "payment": {"id": "p1", "client_secret": payload.get("secret")}, "token": None,
            "a": {"b": "not a dict"}}


@router.post("/secret-text", dependencies=[Depends(idempotency.redact("secret"))])
async def secret_as_text(payload: dict[str, Any], principal: Authenticated) -> Response:
    calls.append(payload)
    return Response(content=f"secret={len(calls)}", media_type="text/plain")


@router.post("/open")
async def open_route(payload: dict[str, Any], principal: Public) -> dict[str, Any]:
    calls.append(payload)
    return {"n": len(calls)}


@pytest_asyncio.fixture(scope="module")
async def idem_app(db_urls, settings):  # type: ignore[no-untyped-def]
    application = create_app(settings, urls=db_urls, start_background=False)
    application.include_router(router)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture
async def http(idem_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    calls.clear()
    behaviour.update(delay=0.0, fail_next=0)
    transport = httpx.ASGITransport(app=idem_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def side_effects(idem_app, tenant_id: uuid.UUID) -> int:  # type: ignore[no-untyped-def]
    async with idem_app.state.db.tenant_transaction(tenant_id) as s:
        return (await s.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'test.thing_created'"))).scalar_one()


async def test_same_key_same_body_replays_the_stored_response(http, idem_app, tenant) -> None:
    headers = {**tenant.admin_headers, **key()}
    first = await http.post("/idem-test/things", json={"name": "lamp"}, headers=headers)
    second = await http.post("/idem-test/things", json={"name": "lamp"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(calls) == 1
    assert await side_effects(idem_app, tenant.id) == 1


async def test_same_key_different_body_is_rejected(http, tenant) -> None:
    headers = {**tenant.admin_headers, **key()}
    assert (await http.post("/idem-test/things", json={"name": "lamp"}, headers=headers)).status_code == 201
    reused = await http.post("/idem-test/things", json={"name": "chair"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    other_path = await http.post("/idem-test/conflicts", json={"name": "lamp"}, headers=headers)
    assert other_path.json()["code"] == "idempotency_key_reused"
    assert len(calls) == 1


@pytest.mark.slow
async def test_twenty_concurrent_duplicates_execute_once(http, idem_app, tenant) -> None:
    behaviour["delay"] = 0.3
    headers = {**tenant.admin_headers, **key()}
    responses = await asyncio.gather(*(
        http.post("/idem-test/things", json={"name": "lamp"}, headers=headers) for _ in range(20)))
    assert len(calls) == 1
    assert await side_effects(idem_app, tenant.id) == 1
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses.count(201) >= 1
    created = [r for r in responses if r.status_code == 201]
    assert len({r.content for r in created}) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency_request_in_progress"
            assert r.headers["retry-after"] == "1"
    behaviour["delay"] = 0.0
    late = await http.post("/idem-test/things", json={"name": "lamp"}, headers=headers)
    assert late.status_code == 201 and late.content == created[0].content
    assert late.headers["idempotent-replayed"] == "true"


async def test_keys_are_scoped_per_tenant_and_principal(http, idem_app, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    shared = key()
    for headers in (a.admin_headers, a.storefront_headers, b.admin_headers):
        r = await http.post("/idem-test/things", json={"name": "lamp"}, headers={**headers, **shared})
        assert r.status_code == 201
        assert "idempotent-replayed" not in r.headers
    assert len(calls) == 3
    assert await side_effects(idem_app, a.id) == 2
    assert await side_effects(idem_app, b.id) == 1


async def test_an_expired_key_can_be_reused(http, idem_app, tenant) -> None:
    headers = {**tenant.admin_headers, **key()}
    assert (await http.post("/idem-test/things", json={"name": "lamp"}, headers=headers)).status_code == 201
    async with idem_app.state.db.tenant_transaction(tenant.id) as s:
        row = (await s.execute(text(
            "SELECT status, expires_at - created_at AS ttl FROM idempotency_keys WHERE key = :k"),
            {"k": headers["Idempotency-Key"]})).one()
        assert row.status == "completed"
        assert row.ttl.total_seconds() == idem_app.state.settings.idempotency_ttl_seconds
        await s.execute(text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :k"),
                        {"k": headers["Idempotency-Key"]})
    again = await http.post("/idem-test/things", json={"name": "chair"}, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert again.json()["payload"] == {"name": "chair"}
    assert len(calls) == 2


async def test_a_server_error_releases_the_key(http, idem_app, tenant) -> None:
    behaviour["fail_next"] = 1
    headers = {**tenant.admin_headers, **key()}
    crashed = await http.post("/idem-test/things", json={"name": "lamp"}, headers=headers)
    assert crashed.status_code == 500
    retried = await http.post("/idem-test/things", json={"name": "lamp"}, headers=headers)
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers
    assert len(calls) == 2
    assert await side_effects(idem_app, tenant.id) == 1  # the crashed attempt rolled back


async def test_a_client_error_is_stored_and_replayed(http, tenant) -> None:
    headers = {**tenant.admin_headers, **key()}
    first = await http.post("/idem-test/conflicts", json={"x": 1}, headers=headers)
    second = await http.post("/idem-test/conflicts", json={"x": 1}, headers=headers)
    assert first.status_code == second.status_code == 409
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(calls) == 1


async def test_an_authentication_failure_is_not_stored(http, tenant) -> None:
    headers = {**tenant.host_headers, **key()}  # anonymous in the tenant: 401 from the route
    assert (await http.post("/idem-test/things", json={"x": 1}, headers=headers)).status_code == 401
    ok = await http.post("/idem-test/things", json={"x": 1}, headers={**headers, **tenant.admin_headers})
    assert ok.status_code == 201


async def test_without_a_key_every_request_executes(http, tenant) -> None:
    for _ in range(2):
        assert (await http.post("/idem-test/things", json={"a": 1}, headers=tenant.admin_headers)).status_code == 201
    assert len(calls) == 2


async def test_requests_without_a_tenant_are_not_deduplicated(http) -> None:
    headers = key()
    first = await http.post("/idem-test/open", json={"a": 1}, headers=headers)
    second = await http.post("/idem-test/open", json={"a": 1}, headers=headers)
    assert (first.json(), second.json()) == ({"n": 1}, {"n": 2})


async def test_anonymous_callers_of_a_tenant_share_one_key_space(http, tenant) -> None:
    headers = {**tenant.host_headers, **key()}
    first = await http.post("/idem-test/open", json={"a": 1}, headers=headers)
    second = await http.post("/idem-test/open", json={"a": 1}, headers=headers)
    assert first.json() == second.json() == {"n": 1}
    assert second.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("bad", ["", "x" * 256, "caf\u00e9"])
async def test_malformed_keys_are_rejected(http, tenant, bad: str) -> None:
    r = await http.post("/idem-test/things", json={"a": 1},
                        headers=[*tenant.admin_headers.items(), ("Idempotency-Key", bad.encode())])
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_idempotency_key"
    assert calls == []


async def test_declared_secrets_are_never_stored_and_replay_as_null(http, idem_app, tenant) -> None:
    headers = {**tenant.admin_headers, **key()}
    secret = f"pi_123_secret_{uuid.uuid4().hex}"
    first = await http.post("/idem-test/secrets", json={"secret": secret}, headers=headers)
    assert first.status_code == 200 and first.json()["payment"]["client_secret"] == secret  # the live answer has it
    assert "idempotent-redacted" not in first.headers
    async with idem_app.state.db.tenant_transaction(tenant.id) as s:
        row = (await s.execute(text("SELECT status, response_body, response_headers::text AS h FROM idempotency_keys "
                                    "WHERE key = :k"), {"k": headers["Idempotency-Key"]})).one()
    assert row.status == "completed"
    assert secret.encode() not in row.response_body and b"_secret_" not in row.response_body
    replay = await http.post("/idem-test/secrets", json={"secret": secret}, headers=headers)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["idempotent-redacted"] == "payment.client_secret"  # only what was there
    assert replay.json() == {**first.json(), "payment": {"id": "p1", "client_secret": None}}
    assert len(calls) == 1


async def test_nothing_to_redact_replays_the_exact_bytes(http, tenant) -> None:
    headers = {**tenant.admin_headers, **key()}
    first = await http.post("/idem-test/secrets", json={"secret": None}, headers=headers)
    replay = await http.post("/idem-test/secrets", json={"secret": None}, headers=headers)
    assert replay.content == first.content and "idempotent-redacted" not in replay.headers


@pytest.mark.parametrize(("body", "paths", "expected", "redacted"), [
    (b'{"p":{"s":"x","k":1}}', ("p.s",), {"p": {"s": None, "k": 1}}, ["p.s"]),
    (b'{"p":{"s":null}}', ("p.s",), None, []),
    (b'{"p":[{"s":"x"}]}', ("p.s",), None, []),
    (b'{"s":"x"}', ("s", "p.s"), {"s": None}, ["s"]),
    (b"", ("s",), None, []),
])
def test_redact_body(body: bytes, paths: tuple[str, ...], expected: Any, redacted: list[str]) -> None:
    out, done = idempotency.redact_body(body, paths)
    assert done == redacted
    if expected is None:
        assert out == body
    else:
        assert json.loads(out) == expected


@pytest.mark.parametrize("body", [b"not json", b'["x"]'])
def test_a_body_that_cannot_be_redacted_is_not_stored(body: bytes) -> None:
    with pytest.raises(idempotency._NotRedactable):
        idempotency.redact_body(body, ("s",))
    assert idempotency.redact_body(body, ()) == (body, [])


async def test_an_answer_that_cannot_be_redacted_is_not_stored(http, idem_app, tenant) -> None:
    headers = {**tenant.admin_headers, **key()}
    first = await http.post("/idem-test/secret-text", json={"a": 1}, headers=headers)
    second = await http.post("/idem-test/secret-text", json={"a": 1}, headers=headers)
    assert (first.text, second.text) == ("secret=1", "secret=2")  # the key was released: no replay
    assert "idempotent-replayed" not in second.headers
    async with idem_app.state.db.tenant_transaction(tenant.id) as s:
        assert (await s.execute(text("SELECT count(*) FROM idempotency_keys WHERE key = :k"),
                                {"k": headers["Idempotency-Key"]})).scalar_one() == 0


def test_redact_rejects_a_malformed_path() -> None:
    with pytest.raises(ValueError):
        idempotency.redact("payment..client_secret")
