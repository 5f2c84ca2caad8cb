"""Payments test harness: the real app with the payments router, helpers to start payments and
count outbox events (read as the worker role: the runtime role cannot read the outbox)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from localstripe_fixtures import (  # noqa: F401 (fixtures)
    app_server,
    build_app,
    checkout_session_standin,
    localstripe_url,
    stripe_env,
)
from sqlalchemy import text

from mercato.payments.config import get_payment_settings
from mercato.platform import breaker
from mercato.platform.db import Database
from mercato.platform.embedded import DatabaseUrls
from mercato.settings import Settings


@pytest_asyncio.fixture(scope="session")
async def app(db_urls: DatabaseUrls, settings: Settings):  # type: ignore[no-untyped-def]
    application = build_app(settings, db_urls)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def payment_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set payment settings for one test (``payment_env(stripe_secret_key=…)``); breakers start closed."""

    def configure(**values: Any) -> None:
        for name, value in values.items():
            env = f"MERCATO_{name.upper()}"
            if value is None:
                monkeypatch.delenv(env, raising=False)
            else:
                monkeypatch.setenv(env, str(value))
        get_payment_settings.cache_clear()
        breaker.reset_all()

    configure()
    yield configure
    monkeypatch.undo()
    get_payment_settings.cache_clear()
    breaker.reset_all()


@pytest.fixture(autouse=True)
def _closed_breakers() -> Iterator[None]:
    breaker.reset_all()
    yield
    breaker.reset_all()


@pytest.fixture
def outbox(worker_db: Database) -> Any:
    """``await outbox(tenant_id, payment_id)`` → the payment's events ``[{"type", "data"}]`` in order."""

    async def events(tenant_id: uuid.UUID, payment_id: uuid.UUID) -> list[dict[str, Any]]:
        async with worker_db.transaction() as s:
            rows = (await s.execute(text(
                "SELECT type, data FROM outbox WHERE tenant_id = :t AND aggregate_type = 'payment' "
                "AND aggregate_id = :p ORDER BY id"), {"t": tenant_id, "p": str(payment_id)})).mappings().all()
        return [{"type": r["type"], "data": r["data"]} for r in rows]

    return events


@pytest.fixture
def event_types(outbox: Any) -> Any:
    async def types(tenant_id: uuid.UUID, payment_id: uuid.UUID) -> list[str]:
        return [e["type"] for e in await outbox(tenant_id, payment_id)]

    return types


@pytest_asyncio.fixture
async def pay(db: Database) -> AsyncIterator[Any]:
    """``await pay(tenant_id, card_number=…, method=…, amount=…, currency=…)`` → PaymentResult (committed)."""
    import mercato.payments as payments

    async def start(tenant_id: uuid.UUID, *, method: str = "test", amount: int = 1999, currency: str = "USD",
                    card_number: str | None = "4242424242424242", payment_data: dict[str, Any] | None = None,
                    order_id: uuid.UUID | None = None, idempotency_key: str | None = None,
                    capture: bool = True) -> payments.PaymentResult:
        if payment_data is None:
            payment_data = {"card_number": card_number} if method == "test" else {}
        async with db.tenant_transaction(tenant_id) as s:
            return await payments.start_payment(
                s, order_id=order_id or uuid.uuid4(), amount=amount, currency=currency, method=method,
                payment_data=payment_data, idempotency_key=idempotency_key, capture=capture)

    yield start


