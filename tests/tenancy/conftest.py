from __future__ import annotations

import uuid

import pytest_asyncio
from sqlalchemy import text

from mercato.platform.db import Database
from mercato.platform.security import encode_jwt, hash_password


@pytest_asyncio.fixture
async def operator_headers(db: Database, settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A platform operator and an access token for it (minted directly: login is tested in identity)."""
    op_id = uuid.uuid4()
    async with db.platform_transaction() as s:
        await s.execute(text("INSERT INTO platform_operators (id, email, password_hash) VALUES (:i, :e, :h)"),
                        {"i": op_id, "e": f"op-{op_id.hex[:8]}@platform.example.com", "h": hash_password("x" * 12)})
    token = encode_jwt({"sub": str(op_id), "kind": "operator", "typ": "access"},
                       settings.secret_key.get_secret_value(), 300)
    return {"Authorization": f"Bearer {token}"}
