"""Helpers of the notifications tests (unique module name: test folders have no __init__)."""

from __future__ import annotations

import asyncio
import email
import uuid
from collections.abc import Callable, Collection
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.notifications import sinks
from mercato.notifications.directory import Contact
from mercato.platform.db import Database
from mercato.platform.events import Relay, publish

API = "/api/v1"

_USER_COLUMNS = "id, email, phone, locale, first_name, last_name, role, status"


def _contact(row: Any) -> Contact:
    return Contact(user_id=row.id, email=row.email, phone=row.phone, locale=row.locale or "en",
                   first_name=row.first_name, last_name=row.last_name, role=row.role, status=row.status)


async def sql_contact(session: AsyncSession, user_id: uuid.UUID) -> Contact | None:
    """A stand-in for identity's directory lookups until identity provides them (test code only)."""
    row = (await session.execute(text(f"SELECT {_USER_COLUMNS} FROM users WHERE id = :id"), {"id": user_id})).first()
    return _contact(row) if row else None


async def sql_staff(session: AsyncSession, roles: Collection[str]) -> list[Contact]:
    rows = (await session.execute(text(f"SELECT {_USER_COLUMNS} FROM users WHERE role = ANY(:r) "
                                       "AND status = 'active' ORDER BY created_at"), {"r": list(roles)})).all()
    return [_contact(r) for r in rows]


def eml_for(settings: Any, notification_id: uuid.UUID) -> list[Path]:
    return sorted(sinks.mail_dir(settings).glob(f"*-{notification_id}.eml"))


def parse_eml(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[return-value]


def bodies(msg: EmailMessage) -> tuple[str, str | None]:
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    return (text_part.get_content() if text_part else "", html_part.get_content() if html_part else None)


async def log_rows(db: Database, tenant_id: uuid.UUID, where: str = "true", **params: Any) -> list[Any]:
    async with db.tenant_transaction(tenant_id) as s:
        return list((await s.execute(text(f"SELECT * FROM notification_log WHERE {where} ORDER BY created_at, id"),
                                     params)).all())


async def relay_until(relay: Relay, done: Callable[[], Any], limit: float = 20.0) -> Any:
    """Run relay batches until ``done()`` (sync or async) returns something truthy."""
    async with asyncio.timeout(limit):
        while True:
            found = done()
            if asyncio.iscoroutine(found):
                found = await found
            if found:
                return found
            await relay.run_once()
            await asyncio.sleep(0.01)


def order_paid_data(*, email_addr: str, number: str, locale: str = "en", currency: str = "EUR",
                    customer_id: uuid.UUID | None = None) -> dict[str, Any]:
    """``order.paid`` data as the orders module publishes it (the OrderDraft/PlacedOrder shape)."""
    order_id = uuid.uuid4()
    lines = [
        {"variant_id": str(uuid.uuid4()), "product_id": str(uuid.uuid4()), "sku": "TEE-BLK-M",
         "product_name": "T-shirt", "variant_title": "Black / M", "quantity": 2, "unit_price": 1999,
         "subtotal": 3998, "discount": 0, "tax": 0, "total": 3998},
        {"variant_id": str(uuid.uuid4()), "product_id": str(uuid.uuid4()), "sku": "MUG-1",
         "product_name": "Mug <Deluxe>", "variant_title": None, "quantity": 1, "unit_price": 123456,
         "subtotal": 123456, "discount": 0, "tax": 0, "total": 123456},
    ]
    return {"order_id": str(order_id), "number": number, "status": "paid", "payment_status": "captured",
            "email": email_addr, "customer_id": str(customer_id) if customer_id else None, "locale": locale,
            "currency": currency, "lines": lines, "subtotal": 127454, "discount_total": 1000, "shipping_total": 499,
            "tax_total": 0, "total": 126953, "shipping_address": {"first_name": "Ann", "last_name": "Lee",
                                                                  "line1": "1 Main St", "city": "Berlin",
                                                                  "postal_code": "10115", "country": "DE"}}


async def publish_event(db: Database, tenant_id: uuid.UUID, type_: str, data: dict[str, Any], *,
                        aggregate_type: str = "order", aggregate_id: Any = None) -> uuid.UUID:
    async with db.tenant_transaction(tenant_id) as s:
        return await publish(s, type_, aggregate_type=aggregate_type,
                             aggregate_id=aggregate_id or data.get("order_id") or uuid.uuid4(), data=data)
