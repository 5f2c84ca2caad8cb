"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from mercato.platform.auth import Open
from mercato.platform.schema import current_revision, head_revision

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness: the process is up", dependencies=[Open])
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: database reachable and migrations current",
            responses={503: {"description": "Not ready"}}, dependencies=[Open])
async def ready(request: Request) -> JSONResponse:
    db = request.app.state.db
    checks: dict[str, str] = {}
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        current, head = await current_revision(db.engine), head_revision()
        checks["migrations"] = "ok" if current == head else f"at {current}, head is {head}"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks.setdefault("database", f"error: {type(exc).__name__}")
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)
