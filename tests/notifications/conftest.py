"""Notifications tests: the notifications router on the session app (until app.py includes it)
and a user directory (identity does not provide one yet: a SQL stand-in, test code only)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from mercato.notifications import directory

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notification_helpers import sql_contact, sql_staff


def _mount(app: FastAPI) -> None:
    paths = {getattr(ctx, "path", None) for ctx in iter_route_contexts(app.routes)}
    if "/api/v1/notifications" not in paths:
        from mercato.notifications.endpoints import router

        app.include_router(router, prefix="/api/v1")
        app.openapi_schema = None


@pytest.fixture(autouse=True)
def _notifications_mounted(app: FastAPI) -> None:
    _mount(app)


@pytest.fixture(autouse=True)
def user_directory() -> Iterator[None]:
    """Identity's lookups when it has installed them; the SQL stand-in otherwise."""
    installed = directory.has_directory()
    if not installed:
        directory.set_directory(contact=sql_contact, staff=sql_staff)
    yield
    if not installed:
        directory.set_directory(contact=None, staff=None)
