"""Audit log: written with the change it records, read per tenant through the API."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

import mercato.audit as audit
from mercato.platform.db import Database
from mercato.platform.security import Principal


async def count_entries(db: Database, tenant_id: uuid.UUID, resource_type: str) -> int:
    async with db.tenant_transaction(tenant_id) as s:
        return (await s.execute(text("SELECT count(*) FROM audit_log WHERE resource_type = :r"),
                                {"r": resource_type})).scalar_one()


async def test_entry_commits_and_rolls_back_with_the_mutation(db: Database, tenant) -> None:
    kind = f"thing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError, match="payment declined"):
        async with db.tenant_transaction(tenant.id) as s:
            await s.execute(text("UPDATE users SET first_name = 'Ann' WHERE id = :u"), {"u": tenant.owner_id})
            await audit.record(s, action="user.updated", resource_type=kind, resource_id=tenant.owner_id,
                               changes=audit.diff({"first_name": None}, {"first_name": "Ann"}))
            raise RuntimeError("payment declined")
    assert await count_entries(db, tenant.id, kind) == 0
    async with db.tenant_transaction(tenant.id) as s:
        assert (await s.execute(text("SELECT first_name FROM users WHERE id = :u"), {"u": tenant.owner_id})
                ).scalar_one() is None
        await audit.record(s, action="user.updated", resource_type=kind, resource_id=tenant.owner_id)
    assert await count_entries(db, tenant.id, kind) == 1


async def test_record_stores_actor_and_json_safe_redacted_changes(db: Database, tenant) -> None:
    kind = f"thing-{uuid.uuid4().hex[:8]}"
    actor = Principal(kind="user", tenant_id=tenant.id, user_id=tenant.owner_id)
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    async with db.tenant_transaction(tenant.id) as s:
        await audit.record(s, action="thing.changed", resource_type=kind, resource_id=42, actor=actor, changes={
            "price": {"from": Decimal("1.10"), "to": Decimal("2.20")},
            "owner": {"from": None, "to": tenant.owner_id},
            "at": {"from": None, "to": when},
            "password_hash": {"from": "$argon2id$old", "to": "$argon2id$new"},
        })
        await audit.record(s, action="thing.touched", resource_type=kind)  # no request: the system acted
        rows = (await s.execute(text(
            "SELECT actor_type, actor_id, resource_id, changes FROM audit_log WHERE resource_type = :r ORDER BY id"),
            {"r": kind})).all()
    assert rows[0].actor_type == "user" and rows[0].actor_id == tenant.owner_id and rows[0].resource_id == "42"
    assert rows[0].changes == {
        "price": {"from": "1.10", "to": "2.20"},
        "owner": {"from": None, "to": str(tenant.owner_id)},
        "at": {"from": None, "to": when.isoformat()},
        "password_hash": {"from": "[redacted]", "to": "[redacted]"},
    }
    assert (rows[1].actor_type, rows[1].actor_id, rows[1].changes) == ("system", None, None)


async def test_record_needs_a_tenant(db: Database) -> None:
    async with db.transaction() as s:
        with pytest.raises(RuntimeError, match="tenant"):
            await audit.record(s, action="x.y", resource_type="x")


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_diff_keeps_changed_fields_only() -> None:
    before = {"name": "Lamp", "price": 100, "tags": ["a"], "colour": Colour.RED}
    after = {"name": "Lamp", "price": 120, "tags": ["a", "b"], "colour": Colour.RED}
    assert audit.diff(before, after) == {"price": {"from": 100, "to": 120},
                                         "tags": {"from": ["a"], "to": ["a", "b"]}}


def test_diff_of_added_and_removed_fields_and_of_equal_dicts() -> None:
    assert audit.diff({"a": 1}, {"b": 2}) == {"a": {"from": 1, "to": None}, "b": {"from": None, "to": 2}}
    assert audit.diff({"a": 1, "b": None}, {"a": 1}) == {}
    assert audit.diff({}, {}) == {}
    assert list(audit.diff({"z": 1, "a": 1}, {"z": 2, "a": 2})) == ["a", "z"]  # stable order


async def seed(db: Database, tenant_id: uuid.UUID, kind: str, n: int, *, actor: Principal | None = None,
               action: str = "thing.created") -> None:
    async with db.tenant_transaction(tenant_id) as s:
        for i in range(n):
            await audit.record(s, action=action, resource_type=kind, resource_id=f"r{i}", actor=actor)


async def test_listing_is_tenant_isolated_and_newest_first(client, db: Database, make_tenant) -> None:
    a, b = await make_tenant(), await make_tenant()
    kind = f"thing-{uuid.uuid4().hex[:8]}"
    await seed(db, a.id, kind, 3)
    await seed(db, b.id, kind, 2)
    r = await client.get("/api/v1/audit-log", params={"resource_type": kind}, headers=a.admin_headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["resource_id"] for i in items] == ["r2", "r1", "r0"]
    assert r.json()["has_more"] is False and r.json()["next_cursor"] is None
    assert set(items[0]) == {"id", "actor_type", "actor_id", "action", "resource_type", "resource_id", "changes",
                             "request_id", "ip", "created_at"}
    # b's whole log holds none of a's entries (and b sees its own).
    r = await client.get("/api/v1/audit-log", params={"limit": 100}, headers=b.admin_headers)
    ids_b = [i["resource_id"] for i in r.json()["items"] if i["resource_type"] == kind]
    assert ids_b == ["r1", "r0"]


async def test_filters_and_keyset_pagination(client, db: Database, tenant) -> None:
    kind = f"thing-{uuid.uuid4().hex[:8]}"
    actor = Principal(kind="user", tenant_id=tenant.id, user_id=tenant.owner_id)
    await seed(db, tenant.id, kind, 5, actor=actor)
    await seed(db, tenant.id, kind, 2, action="thing.deleted")
    get = client.get
    h = tenant.admin_headers

    pages, cursor = [], None
    while True:
        params = {"resource_type": kind, "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await get("/api/v1/audit-log", params=params, headers=h)).json()
        pages.append([(i["action"], i["resource_id"]) for i in body["items"]])
        cursor = body["next_cursor"]
        assert body["has_more"] is (cursor is not None)
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [x for p in pages for x in p]
    assert flat[:2] == [("thing.deleted", "r1"), ("thing.deleted", "r0")]
    assert len(set(flat)) == 7

    by_action = (await get("/api/v1/audit-log", params={"resource_type": kind, "action": "thing.deleted"},
                           headers=h)).json()["items"]
    assert [i["resource_id"] for i in by_action] == ["r1", "r0"]
    by_actor = (await get("/api/v1/audit-log", params={"resource_type": kind, "actor_id": str(tenant.owner_id)},
                          headers=h)).json()["items"]
    assert len(by_actor) == 5 and {i["actor_type"] for i in by_actor} == {"user"}
    by_resource = (await get("/api/v1/audit-log", params={"resource_type": kind, "resource_id": "r3"},
                             headers=h)).json()["items"]
    assert [(i["action"], i["resource_id"]) for i in by_resource] == [("thing.created", "r3")]
    offset = (await get("/api/v1/audit-log", params={"resource_type": kind, "offset": 5}, headers=h)).json()
    assert len(offset["items"]) == 2

    newest = dt.datetime.fromisoformat(by_action[0]["created_at"])
    future = (newest + dt.timedelta(seconds=1)).isoformat()
    past = (newest - dt.timedelta(days=1)).isoformat()
    in_window = (await get("/api/v1/audit-log", params={"resource_type": kind, "since": past, "until": future},
                           headers=h)).json()["items"]
    assert len(in_window) == 7
    assert (await get("/api/v1/audit-log", params={"resource_type": kind, "since": future},
                      headers=h)).json()["items"] == []
    assert (await get("/api/v1/audit-log", params={"resource_type": kind, "until": past},
                      headers=h)).json()["items"] == []


async def test_bad_cursor_and_bad_filters_are_client_errors(client, tenant) -> None:
    from mercato.platform.pagination import encode_cursor

    h = tenant.admin_headers
    r = await client.get("/api/v1/audit-log", params={"cursor": "!!"}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await client.get("/api/v1/audit-log", params={"cursor": encode_cursor(["x", 1])}, headers=h)
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await client.get("/api/v1/audit-log", params={"actor_id": "nope", "since": "yesterday"}, headers=h)
    assert r.status_code == 422


async def test_reading_the_log_needs_the_permission(client, tenant, operator_headers) -> None:
    assert (await client.get("/api/v1/audit-log")).status_code == 401
    r = await client.get("/api/v1/audit-log", headers=tenant.storefront_headers)
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = await client.get("/api/v1/audit-log", headers=operator_headers)
    assert r.status_code == 403
