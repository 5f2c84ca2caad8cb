"""Pagination, one syntax for every list endpoint.

``?limit=`` (1–100, default 20) with either ``?offset=`` or ``?cursor=`` (opaque,
from the previous page's ``next_cursor``). Responses: ``{items, has_more, next_cursor}``.
Sorting: ``?sort=field`` or ``?sort=-field`` (descending), fields listed per endpoint.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel

from mercato.platform.errors import BadRequest

T = TypeVar("T")


class InvalidCursor(BadRequest):
    code, title = "invalid_cursor", "Invalid pagination cursor"


class Page(BaseModel, Generic[T]):
    items: list[T]
    has_more: bool
    next_cursor: str | None = None


def encode_cursor(values: list[Any]) -> str:
    def conv(v: Any) -> Any:
        if isinstance(v, datetime):
            return {"t": v.isoformat()}
        if isinstance(v, uuid.UUID):
            return {"u": str(v)}
        return v

    return base64.urlsafe_b64encode(orjson.dumps([conv(v) for v in values])).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list):
            raise ValueError
        out: list[Any] = []
        for v in raw:
            if isinstance(v, dict) and "t" in v:
                out.append(datetime.fromisoformat(v["t"]))
            elif isinstance(v, dict) and "u" in v:
                out.append(uuid.UUID(v["u"]))
            else:
                out.append(v)
        return out
    except Exception as exc:
        raise InvalidCursor("cursor is malformed", field="query.cursor") from exc


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int
    cursor: list[Any] | None


async def _page_params(  # async: a plain def would run in the thread pool (a thread hop per request)
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 20,
    offset: Annotated[int, Query(ge=0, le=100_000, description="Rows to skip (ignored with cursor)")] = 0,
    cursor: Annotated[str | None, Query(max_length=500, description="Opaque cursor from next_cursor")] = None,
) -> PageParams:
    return PageParams(limit=limit, offset=offset, cursor=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageParams, Depends(_page_params)]


def page_of(rows: list[T], params: PageParams, key: Any) -> tuple[list[T], bool, str | None]:
    """Trim the +1 row fetched to detect ``has_more`` and build the next cursor with ``key(row)``."""
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = encode_cursor(key(rows[-1])) if has_more and rows else None
    return rows, has_more, next_cursor
