"""Promotions over HTTP and the atomic redemption used at order placement."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

import mercato.promotions as promotions
from mercato.platform.errors import MercatoError

API = "/api/v1/promotions"


def body(**kw):  # type: ignore[no-untyped-def]
    return {"code": f"C{uuid.uuid4().hex[:8]}", "name": "Ten off", "kind": "percentage_off", "percent": "10", **kw}


async def test_crud_and_case_insensitive_unique_code(client, tenant) -> None:  # type: ignore[no-untyped-def]
    h = tenant.admin_headers
    r = await client.post(API, headers=h, json=body(code="summer25"))
    assert r.status_code == 201, r.text
    promo = r.json()
    assert promo["code"] == "SUMMER25" and promo["percent"] == "10.00" and promo["usage_count"] == 0
    r = await client.post(API, headers=h, json=body(code="Summer25"))
    assert r.status_code == 409 and r.json()["code"] == "promotion_code_taken"
    r = await client.get(f"{API}/{promo['id']}", headers=h)
    assert r.status_code == 200 and r.json()["name"] == "Ten off"
    r = await client.patch(f"{API}/{promo['id']}", headers=h, json={"percent": "15", "combinable": True})
    assert r.status_code == 200 and r.json()["percent"] == "15.00" and r.json()["combinable"] is True
    r = await client.get(API, headers=h, params={"code": "summ"})
    assert [p["code"] for p in r.json()["items"]] == ["SUMMER25"]
    r = await client.delete(f"{API}/{promo['id']}", headers=h)
    assert r.status_code == 204
    assert (await client.get(f"{API}/{promo['id']}", headers=h)).status_code == 404


async def test_definition_errors_and_permissions(client, tenant) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(API, headers=tenant.admin_headers, json=body(kind="fixed_amount_off", percent=None,
                                                                        amount_cents=500))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "currency"
    r = await client.post(API, headers=tenant.admin_headers, json=body(kind="bogus"))
    assert r.status_code == 422
    r = await client.post(API, headers=tenant.storefront_headers, json=body())
    assert r.status_code == 403
    r = await client.get(API, headers=tenant.storefront_headers)
    assert r.status_code == 403
    r = await client.get(API, headers=tenant.host_headers)
    assert r.status_code == 401


async def test_tenants_do_not_see_each_others_promotions(client, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = await make_tenant(), await make_tenant()
    promo = (await client.post(API, headers=a.admin_headers, json=body(code="SHARED"))).json()
    assert (await client.get(f"{API}/{promo['id']}", headers=b.admin_headers)).status_code == 404
    assert (await client.get(API, headers=b.admin_headers)).json()["items"] == []
    # the same code is free in another shop
    assert (await client.post(API, headers=b.admin_headers, json=body(code="shared"))).status_code == 201


async def _create(db, tenant_id, **values):  # type: ignore[no-untyped-def]
    from mercato.promotions.schemas import PromotionCreate
    from mercato.promotions.service import create_promotion

    async with db.tenant_transaction(tenant_id) as s:
        p = await create_promotion(s, PromotionCreate(**body(**values)))
        return p.id, p.code


async def _usage(db, tenant_id, promotion_id):  # type: ignore[no-untyped-def]
    async with db.tenant_transaction(tenant_id) as s:
        return (await s.execute(text("SELECT usage_count FROM promotions WHERE id = :i"), {"i": promotion_id})).scalar()


@pytest.mark.slow
async def test_20_concurrent_redemptions_of_a_5_use_code_exactly_5_succeed(db, tenant) -> None:  # type: ignore[no-untyped-def]
    promotion_id, _ = await _create(db, tenant.id, usage_limit=5)

    async def attempt(i: int) -> str:
        try:
            async with db.tenant_transaction(tenant.id) as s:
                await promotions.redeem(s, promotion_id, f"customer-{i}@example.com", uuid.uuid4())
                await asyncio.sleep(0.01)  # hold the lock a little: make the race real
            return "ok"
        except MercatoError as exc:
            return exc.code

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert results.count("ok") == 5
    assert set(results) == {"ok", "coupon_exhausted"}
    assert await _usage(db, tenant.id, promotion_id) == 5
    async with db.tenant_transaction(tenant.id) as s:
        n = (await s.execute(text("SELECT count(*) FROM promotion_redemptions WHERE promotion_id = :i"),
                             {"i": promotion_id})).scalar()
    assert n == 5


@pytest.mark.slow
async def test_per_customer_limit_holds_under_concurrency(db, tenant) -> None:  # type: ignore[no-untyped-def]
    promotion_id, _ = await _create(db, tenant.id, per_customer_limit=2)

    async def attempt() -> str:
        try:
            async with db.tenant_transaction(tenant.id) as s:
                await promotions.redeem(s, promotion_id, "Same@Example.com", uuid.uuid4())
            return "ok"
        except MercatoError as exc:
            return exc.code

    results = await asyncio.gather(*(attempt() for _ in range(8)))
    assert results.count("ok") == 2 and results.count("coupon_exhausted") == 6


async def test_redeem_is_idempotent_per_order_and_unredeem_gives_the_use_back(db, tenant) -> None:  # type: ignore[no-untyped-def]
    promotion_id, _ = await _create(db, tenant.id, usage_limit=1)
    order_id = uuid.uuid4()
    for _ in range(2):
        async with db.tenant_transaction(tenant.id) as s:
            await promotions.redeem(s, promotion_id, "a@example.com", order_id)
    assert await _usage(db, tenant.id, promotion_id) == 1
    with pytest.raises(MercatoError) as exc:
        async with db.tenant_transaction(tenant.id) as s:
            await promotions.redeem(s, promotion_id, "b@example.com", uuid.uuid4())
    assert exc.value.code == "coupon_exhausted"
    async with db.tenant_transaction(tenant.id) as s:
        assert await promotions.unredeem(s, promotion_id, order_id) is True
        assert await promotions.unredeem(s, promotion_id, order_id) is False
    assert await _usage(db, tenant.id, promotion_id) == 0
    async with db.tenant_transaction(tenant.id) as s:
        await promotions.redeem(s, promotion_id, "b@example.com", uuid.uuid4())


async def test_redeem_names_why_a_code_stopped_being_valid(db, tenant) -> None:  # type: ignore[no-untyped-def]
    expired, _ = await _create(db, tenant.id, starts_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
                               ends_at=(datetime.now(UTC) - timedelta(days=1)).isoformat())
    future, _ = await _create(db, tenant.id, starts_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    for pid, code in ((expired, "coupon_expired"), (future, "coupon_not_started"), (uuid.uuid4(), "coupon_invalid")):
        with pytest.raises(MercatoError) as exc:
            async with db.tenant_transaction(tenant.id) as s:
                await promotions.redeem(s, pid, "a@example.com", uuid.uuid4())
        assert exc.value.code == code


async def test_a_redeemed_promotion_cannot_be_deleted(client, db, tenant) -> None:  # type: ignore[no-untyped-def]
    promotion_id, _ = await _create(db, tenant.id)
    async with db.tenant_transaction(tenant.id) as s:
        await promotions.redeem(s, promotion_id, "a@example.com", uuid.uuid4())
    r = await client.delete(f"{API}/{promotion_id}", headers=tenant.admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "promotion_in_use"
