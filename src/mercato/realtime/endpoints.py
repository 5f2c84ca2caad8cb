"""Real-time endpoints: the ``/ws`` socket (app root) and the operator broadcast (under /api/v1).

``router`` is included without prefix, ``api_router`` with the API prefix.

Why ``/ws`` declares :data:`~mercato.platform.auth.Open` and authenticates itself: the HTTP
permission dependencies resolve the principal from the ``Authorization`` header inside the
request's database transaction. A browser cannot set headers on a WebSocket, and a socket
lives for hours — holding a transaction (and a pooled connection) that long is not an
option. So the socket authenticates in :mod:`mercato.realtime.connection` with the token from
the query string or its first message, through the same resolver (``app.state.resolve_principal``)
in a short transaction of its own, and is closed with 4401/4403 when that fails.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, WebSocket, status

from mercato.platform.auth import Open, require
from mercato.platform.db import SessionDep
from mercato.platform.errors import problem_schema_responses
from mercato.platform.security import Permission, Principal
from mercato.realtime import service
from mercato.realtime.connection import Connection
from mercato.realtime.domain import CloseCode
from mercato.realtime.schemas import BroadcastAccepted, BroadcastCreate

router = APIRouter(tags=["realtime"])
api_router = APIRouter(prefix="/realtime", tags=["realtime"])

Broadcaster = Annotated[Principal, require(Permission.PLATFORM_BROADCAST)]


@router.websocket("/ws", name="realtime_socket", dependencies=[Open])
async def realtime_socket(websocket: WebSocket) -> None:
    """Live updates: see docs/realtime.md for the protocol."""
    hub = getattr(websocket.app.state, "realtime_hub", None)
    if hub is None or not hub.started:
        await websocket.accept()
        await websocket.close(code=CloseCode.SERVER_ERROR, reason="real-time service unavailable")
        return
    await Connection(websocket, hub).run()


@api_router.post("/broadcast", status_code=status.HTTP_202_ACCEPTED, response_model=BroadcastAccepted,
                 summary="Broadcast a message to every open socket of a shop (platform operators)",
                 responses=problem_schema_responses(401, 403, 404, 422, 503))
async def broadcast(data: BroadcastCreate, request: Request, session: SessionDep,
                    operator: Broadcaster) -> BroadcastAccepted:
    return await service.broadcast(session, getattr(request.app.state, "realtime_hub", None), data, operator)
